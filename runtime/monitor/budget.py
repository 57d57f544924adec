"""A cap on the CPU time the HTTP thread takes, so that watching a run cannot slow it much.

The run and the HTTP thread share one interpreter lock: every microsecond spent answering
requests is one the pipeline waits. A Prometheus scrape or a dashboard poll costs next to
nothing, but hundreds of clients in a loop would take the lock as often as they ask. The
server asks `Budget.wait()` before taking each connection; when the thread has used more than
`share` of the elapsed time (a token bucket, measured with `time.thread_time`, which counts
only this thread's CPU time), it pauses and the clients wait their turn in the listen queue.
They are answered later, not refused.
"""

from __future__ import annotations

import time

from rillet.runtime.clock import Clock

SHARE = 0.05
"""Of one CPU: some 400 requests a second when hundreds of clients ask at once."""
BURST_S = 0.05
"""CPU time that may be spent at once before the share applies."""


class Budget:
    """Call `wait()` from the thread whose CPU time is to be capped."""

    def __init__(self, clock: Clock, share: float = SHARE, burst_s: float = BURST_S) -> None:
        self.clock = clock
        self.share = share
        self.burst_s = burst_s
        self._left_s = burst_s
        self._cpu_s = time.thread_time()  # CPU time, not a clock's: what the cap is about
        self._wall_s = clock.monotonic_s()

    async def wait(self) -> None:
        """Return once the thread is within its share, sleeping until then if it is not."""
        cpu_s, wall_s = time.thread_time(), self.clock.monotonic_s()
        self._left_s = min(
            self.burst_s,
            self._left_s + (wall_s - self._wall_s) * self.share - (cpu_s - self._cpu_s),
        )
        self._cpu_s, self._wall_s = cpu_s, wall_s
        if self._left_s < 0:
            await self.clock.sleep(-self._left_s / self.share)
