"""One retry policy for the connectors that talk to a server (Redis, NATS, the databases, the
shuffle between workers): after a failure, wait `FIRST_S`, doubling to at most `MAX_S`, and
give up once `total_s` has passed since the first failure. Time is the run's clock, so tests
drive the waits with a manual clock."""

from __future__ import annotations

from rillet.runtime.plugin import Clock

FIRST_S = 0.1
MAX_S = 5.0


class Backoff:
    """The retries of one operation: `await backoff.wait()` after each failure; False once
    the time is up (the caller then reports the failure)."""

    def __init__(self, clock: Clock, total_s: float) -> None:
        self.clock = clock
        self.total_s = total_s
        self.delay_s = FIRST_S
        self.deadline: float | None = None

    @property
    def retrying(self) -> bool:
        """Whether a failure has been met (to log the first one, and the recovery)."""
        return self.deadline is not None

    def start(self) -> None:
        """Count the time allowed from now, rather than from the first failure."""
        if self.deadline is None:
            self.deadline = self.clock.monotonic_s() + self.total_s

    def next_delay(self) -> float | None:
        """How long to wait before the next try; None once `total_s` has passed."""
        self.start()
        assert self.deadline is not None
        left = self.deadline - self.clock.monotonic_s()
        if left <= 0:
            return None
        delay = min(self.delay_s, left)
        self.delay_s = min(self.delay_s * 2, MAX_S)
        return delay

    async def wait(self) -> bool:
        delay = self.next_delay()
        if delay is None:
            return False
        await self.clock.sleep(delay)
        return True
