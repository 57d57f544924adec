"""SIGINT and SIGTERM for `rillet run`, obeyed within seconds even while a stage is busy.

A graceful stop (stop reading, take a last checkpoint, close the outputs) needs the event loop,
and a stage runs a whole batch in one synchronous call: a plugin function that sleeps, or a slow
expression over a large batch, holds the loop for as long as it likes. So the signals are not
left to the loop. Their handler runs in the main thread between two Python instructions, loop
or no loop, and
- on the first signal, hands the loop the request to stop after a last checkpoint, and starts
  a timer: if the run has not ended `GRACE_S` seconds later, it says so and ends the process at
  once, with the exit code of the signal;
- on a second signal, ends the process at once.

Ending at once is safe: a checkpoint is written whole or not at all, and the next run goes on
from the last complete one, cutting back what the outputs received after it (as after a crash).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

GRACE_S = 5.0
"""How long a run may take, after the first signal, to finish its last checkpoint and close."""

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def exit_code(signum: int) -> int:
    """The shell's code for a process ended by `signum`: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + signum


def _say(text: str) -> None:
    """Write to standard error without Python's buffered stream, which the interrupted code
    may be in the middle of writing (a reentrant write would raise)."""
    try:
        os.write(2, text.encode("utf-8", "replace"))
    except OSError:
        pass


class Stopper:
    """The signal handlers of one run.

    `request` is called, in the event loop, when the first signal arrives; `resumes` says where
    the next run goes on, for the message printed when the process ends at once. The handlers
    are in place from before the run's event loop starts (the address `--http` serves is
    printed before it): a signal that comes first is passed on once the loop is `attach`ed.
    """

    def __init__(
        self,
        request: Callable[[], None],
        resumes: Callable[[], str],
        grace_s: float = GRACE_S,
    ) -> None:
        self._request = request
        self._schedule: Callable[[Callable[[], None]], object] | None = None
        self._resumes = resumes
        self._grace_s = grace_s
        self.received: int | None = None
        self._timer: threading.Timer | None = None

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.received is not None:
            self._end_now(signum, "stopping now, without a last checkpoint")
            return
        self.received = signum
        _say("rillet: stopping after a last checkpoint (again to stop at once)\n")
        self._timer = threading.Timer(self._grace_s, self._overdue)
        self._timer.daemon = True
        self._timer.start()
        if self._schedule is not None:
            self._schedule(self._request)

    def attach(self, schedule: Callable[[Callable[[], None]], object]) -> None:
        """The run's event loop has started: `schedule` runs a call in it. A signal received
        before is passed on now (a request made twice is made once)."""
        self._schedule = schedule
        if self.received is not None:
            schedule(self._request)

    def _overdue(self) -> None:
        assert self.received is not None
        self._end_now(
            self.received,
            f"still busy {self._grace_s:g} s after the signal (a "
            "stage or connector does not give way); stopping now",
        )

    def _end_now(self, signum: int, what: str) -> None:
        if os.isatty(2):
            _say("\x1b[?25h\n")  # the live view hides the cursor; it has no chance to show it
        _say(f"rillet: {what}; {self._resumes()}\n")
        os._exit(exit_code(signum))

    def cancel(self) -> None:
        """The run has ended: nothing left to stop."""
        if self._timer is not None:
            self._timer.cancel()


@contextmanager
def handling(stopper: Stopper) -> Iterator[Stopper]:
    """Route SIGINT and SIGTERM to `stopper` while the block runs (main thread only)."""
    previous = {s: signal.signal(s, stopper.handle) for s in SIGNALS}
    try:
        yield stopper
    finally:
        stopper.cancel()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


__all__ = ["GRACE_S", "Stopper", "exit_code", "handling"]
