"""The supervisor of a `--workers` run on one machine: it starts each worker as a process of its
own, restarts one that dies (it resumes from its last checkpoint, so nothing is lost or
doubled), passes SIGINT and SIGTERM on to them all, and ends once every worker has finished.
What a worker runs is the caller's command line; no cluster of rillet's own is involved."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from .clock import Clock

MAX_RESTARTS = 50
"""A worker that keeps dying is given up on after this many restarts: the run fails."""
RESTART_DELAY_S = 0.5
POLL_S = 0.1
USAGE = 2
"""The exit code of a mistake in the file or the command: restarting cannot help."""

Command = Callable[[int, bool], list[str]]
"""The command line of worker `i`; the flag is set when it is restarted."""


class _Workers:
    def __init__(self, command: Command) -> None:
        self.command = command
        self.running: dict[int, subprocess.Popen] = {}
        self.stopping: list[int] = []  # the signals received

    def start(self, worker: int, restarted: bool = False) -> None:
        self.running[worker] = subprocess.Popen(self.command(worker, restarted))

    def signal(self, signum: int, _frame: Any = None) -> None:
        self.stopping.append(signum)
        for process in self.running.values():
            process.send_signal(signum)

    def ended(self) -> list[tuple[int, int]]:
        """The workers that have ended since the last call, with their exit codes."""
        done = [(w, p.poll()) for w, p in self.running.items()]
        ended = [(w, code) for w, code in done if code is not None]
        for worker, _ in ended:
            del self.running[worker]
        return ended


async def supervise(ids: list[int], command: Command, clock: Clock) -> int:
    """Run workers `ids` until each has finished; the run's exit code."""
    workers = _Workers(command)
    restarts = dict.fromkeys(ids, 0)
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, workers.signal) for s in handled}
    try:
        for worker in ids:
            workers.start(worker)
        while workers.running:
            await clock.sleep(POLL_S)
            for worker, code in workers.ended():
                if code == 0 or workers.stopping:
                    continue
                if code == USAGE:
                    workers.signal(signal.SIGTERM)
                    return USAGE
                restarts[worker] += 1
                if restarts[worker] > MAX_RESTARTS:
                    print(
                        f"rillet: worker {worker} failed {MAX_RESTARTS} times; giving up",
                        file=sys.stderr,
                    )
                    workers.signal(signal.SIGTERM)
                    return 1
                how = f"signal {-code}" if code < 0 else f"exit code {code}"
                print(
                    f"rillet: worker {worker} stopped ({how}); restarting it from its last "
                    "checkpoint",
                    file=sys.stderr,
                )
                await clock.sleep(RESTART_DELAY_S)
                workers.start(worker, restarted=True)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if workers.stopping:
        return 130 if workers.stopping[0] == signal.SIGINT else 143
    return 0


__all__ = ["MAX_RESTARTS", "supervise"]
