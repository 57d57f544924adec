"""`rillet run --watch`: the edit-run loop. The pipeline runs; when its file, or a plugin file
it `use`s by path, changes, the run stops after a last checkpoint (as on Ctrl-C), the file is
checked again, and the pipeline runs again, resuming from that checkpoint with the state that
still fits. Check errors are printed and the next change awaited, as is the end of a run that
finished or failed. Ctrl-C or SIGTERM ends the loop, with the exit code of a stopped run.

Files are polled (modification time, size and inode, every `POLL_S`) rather than watched
through the operating system: no dependency, the same everywhere, and during a run the polling
sleeps on the run's clock. A change is acted on once the files hold still for one more poll,
since editors often save in two writes.
"""

from __future__ import annotations

import os
import signal
import sys
from argparse import Namespace
from collections.abc import Callable
from pathlib import Path

import anyio
import msgspec
from msgspec import field

from rillet.runtime.clock import Clock, SystemClock
from rillet.runtime.run import Execution

from . import ast
from .invocation import EXIT_INTERRUPTED, EXIT_TERMINATED
from .parsecache import parse_cached

POLL_S = 0.2

Stamp = tuple[int, int, int] | None


def _stamp(path: Path) -> Stamp:
    try:
        st = os.stat(path)
    except OSError:
        return None  # missing, for now: an editor may be replacing it
    return st.st_mtime_ns, st.st_size, st.st_ino


def plugin_files(pipeline: Path) -> list[Path] | None:
    """The plugin files the pipeline `use`s by path; None when it cannot be read or parsed."""
    try:
        program, _, _ = parse_cached(pipeline.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None
    if program is None:
        return None
    return [
        (pipeline.parent / s.target).resolve()
        for s in program.statements
        if isinstance(s, ast.UseDecl) and s.is_path
    ]


class Files:
    """The pipeline file and its plugin files, as last seen. The plugin files are looked up
    again each time the pipeline file changes (a file that does not parse keeps the last
    list)."""

    def __init__(self, pipeline: Path) -> None:
        self.pipeline = pipeline
        self.plugins = plugin_files(pipeline) or []
        self.stamps = self._stamps()
        self.pending: list[Path] = []  # changed, not yet reported (a wait was cancelled)

    def _stamps(self) -> dict[Path, Stamp]:
        return {path: _stamp(path) for path in (self.pipeline, *self.plugins)}

    def names(self) -> str:
        shown = [self.pipeline.name, *(p.name for p in self.plugins)]
        return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]

    def _look(self) -> bool:
        """Whether anything changed since last seen; the files that did join `pending`."""
        now = self._stamps()
        changed = [path for path, stamp in now.items() if self.stamps.get(path) != stamp]
        if not changed:
            return False
        if self.pipeline in changed:
            self.plugins = plugin_files(self.pipeline) or self.plugins
            now = self._stamps()
        self.stamps = now
        self.pending += [p for p in changed if p not in self.pending]
        return True

    async def until_changed(self, clock: Clock) -> list[Path]:
        """Wait for a change, then for the files to hold still for one poll; the files that
        changed. A wait cancelled meanwhile leaves what it saw to the next one."""
        while not self.pending and not self._look():
            await clock.sleep(POLL_S)
        while True:
            await clock.sleep(POLL_S)
            if not self._look():
                changed, self.pending = self.pending, []
                return changed


class Watching(msgspec.Struct):
    """What one run of the loop and `cmd_run` tell each other. `after_change`: this run follows
    an edit (a finished run's checkpoint is then started over, so the outputs show the edit);
    `mismatch`: set by `cmd_run` when the saved state did not fit the pipeline."""

    files: Files
    after_change: bool = False
    mismatch: str | None = None
    changed: list[Path] = field(default_factory=list)

    async def stop_on_change(self, execution: Execution) -> None:
        """Runs beside the execution: on a change, stop it after a last checkpoint."""
        self.changed = await self.files.until_changed(execution.clock)
        print(
            f"rillet: {_names(self.changed)} changed: stopping after a last checkpoint",
            file=sys.stderr,
        )
        execution.request_stop()


def _names(paths: list[Path]) -> str:
    return ", ".join(p.name for p in paths)


async def _wait(files: Files) -> tuple[list[Path], int | None]:
    """Until a file changes (the files that did) or a signal comes (its number)."""
    signum: list[int] = []
    changed: list[Path] = []
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with anyio.create_task_group() as tg:

            async def on_signal() -> None:
                async for received in signals:
                    signum.append(received)
                    tg.cancel_scope.cancel()

            tg.start_soon(on_signal)
            changed = await files.until_changed(SystemClock())
            tg.cancel_scope.cancel()
    return changed, signum[0] if signum else None


def edit_run_loop(args: Namespace, run: Callable[[Namespace, Watching], int]) -> int:
    """Run `args.file` with `run` (the CLI's `cmd_run`), again after each change, until a
    signal; the exit code is that of the run the signal stopped (130, 143)."""
    files = Files(Path(args.file))
    args = Namespace(**vars(args))
    watching = Watching(files)
    while True:
        code = run(args, watching)
        args.fresh = False
        if code in (EXIT_INTERRUPTED, EXIT_TERMINATED):
            return code
        if watching.mismatch is not None:
            print(
                f"rillet: {watching.mismatch}\nrillet: the saved state does not fit the "
                "edited pipeline: starting over from the beginning (as --fresh would)",
                file=sys.stderr,
            )
            args.fresh, watching.mismatch = True, None
            continue
        if not watching.changed:  # the run ended by itself: finished, failed or not checked
            print(f"rillet: watching {files.names()} for changes (Ctrl-C stops)", file=sys.stderr)
            watching.changed, signum = anyio.run(_wait, files)
            if signum is not None:
                print("rillet: stopped watching", file=sys.stderr)
                return EXIT_INTERRUPTED if signum == signal.SIGINT else EXIT_TERMINATED
            print(f"rillet: {_names(watching.changed)} changed", file=sys.stderr)
        print(f"rillet: checking {files.pipeline.name} again", file=sys.stderr)
        watching.after_change, watching.changed = True, []
