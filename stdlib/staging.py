"""A sink's staging folder, one subfolder per epoch (the sink's n-th checkpoint), for the sinks
that stage each checkpoint's output as files and make it visible only once the checkpoint is
saved (`parquet`, `delta`). It lives beside the output, never inside it
(`out/.clicks.staging/w0/epoch-3/` for `out/clicks`, worker 0), so no reader of the output sees
a staged file, and on the same file system, so a staged file is moved into place by a rename."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from rillet.runtime.plugin import StateMismatch


class EpochStaging:
    def __init__(self, output: Path, worker: int) -> None:
        self.root = output.parent / f".{output.name}.staging" / f"w{worker}"

    def folder(self, epoch: int) -> Path:
        """Where epoch `epoch`'s files are staged (created by whoever writes one)."""
        return self.root / f"epoch-{epoch}"

    def epochs(self) -> list[tuple[int, Path]]:
        """The staged epochs, oldest first, with their folders."""
        if not self.root.is_dir():
            return []
        return sorted((int(p.name.removeprefix("epoch-")), p) for p in self.root.glob("epoch-*"))

    def drop(self, folder: Path) -> None:
        """Delete an epoch's folder, and the staging folders once they are empty (a run that
        committed everything leaves nothing beside its output)."""
        shutil.rmtree(folder)
        for empty in (self.root, self.root.parent):
            try:
                empty.rmdir()
            except OSError:  # not empty: another epoch, or another worker's
                return

    def drop_after(self, epoch: int) -> None:
        """Delete the epochs after `epoch`: never part of a saved checkpoint."""
        for staged, folder in self.epochs():
            if staged > epoch:
                self.drop(folder)

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def fsync(path: Path) -> None:
    """Make a written file, or a folder's new entries, durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_path(sink: str, committed: dict, shown: str) -> None:
    """A checkpoint's output is the one the pipeline names now: resuming into another would
    leave the other half-written and this one without its start."""
    written = committed.get("path", shown)
    if written != shown:
        raise StateMismatch(
            f"sink `{sink}` wrote to {written} up to the checkpoint being resumed, the pipeline "
            f"now names {shown}; run with --fresh to write {shown} from the start, or put the "
            "path back"
        )
