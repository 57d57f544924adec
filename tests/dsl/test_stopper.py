"""The stop signal's handler is in place before the run's event loop starts (`--http` prints
its address before): a signal that arrives first is not lost, nor turned into a stray
KeyboardInterrupt, but passed on once the loop is attached, and only once."""

from __future__ import annotations

import signal
from collections.abc import Callable

from rillet.dsl.stopping import Stopper


def _stopper(requests: list[str]) -> Stopper:
    return Stopper(lambda: requests.append("stop"), lambda: "", grace_s=3600)


def _now(call: Callable[[], None]) -> None:
    call()


def test_a_signal_before_the_loop_is_passed_on_when_it_is_attached() -> None:
    requests: list[str] = []
    stopper = _stopper(requests)
    stopper.handle(signal.SIGINT, None)
    assert requests == [] and stopper.received == signal.SIGINT
    stopper.attach(_now)
    stopper.cancel()
    assert requests == ["stop"]


def test_a_signal_after_the_loop_is_passed_on_at_once() -> None:
    requests: list[str] = []
    stopper = _stopper(requests)
    stopper.attach(_now)
    assert requests == []
    stopper.handle(signal.SIGTERM, None)
    stopper.cancel()
    assert requests == ["stop"] and stopper.received == signal.SIGTERM
