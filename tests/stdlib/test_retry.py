"""The one retry policy of the server connectors, timed on a manual clock: waits doubling from
0.1 s to at most 5 s, the last one cut to the time left, and no more once that is spent."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from rillet.runtime.clock import ManualClock
from rillet.stdlib.retry import Backoff


def delays(backoff: Backoff, clock: ManualClock) -> list[float]:
    taken = []
    while (delay := backoff.next_delay()) is not None:
        taken.append(round(delay, 6))
        clock.advance(delay)
    return taken


def test_waits_double_to_the_cap_and_stop_when_the_time_is_spent() -> None:
    clock = ManualClock()
    assert delays(Backoff(clock, 20.0), clock) == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 3.7]


def test_the_time_allowed_counts_from_start_when_asked() -> None:
    clock = ManualClock()
    backoff = Backoff(clock, 1.0)
    backoff.start()
    clock.advance(0.95)
    assert backoff.retrying
    assert delays(backoff, clock) == [0.05]


@pytest.mark.parametrize("total_s", [0.0, 0.3])
def test_wait_sleeps_on_the_clock_and_says_when_to_give_up(total_s: float) -> None:
    clock = ManualClock()
    backoff = Backoff(clock, total_s)

    async def retry_until_given_up() -> int:
        tries = 0
        async with anyio.create_task_group() as tg:

            async def tick() -> None:
                while True:
                    await anyio.lowlevel.checkpoint()
                    clock.advance(0.05)

            tg.start_soon(tick)
            while await backoff.wait():
                tries += 1
            tg.cancel_scope.cancel()
        return tries

    assert anyio.run(retry_until_given_up) == (0 if total_s == 0 else 2)
