"""Time, injected: the runtime reads time only through a `Clock`.

Tests use `ManualClock` and advance it instead of sleeping; `SystemClock` is the real thing.
"""

from __future__ import annotations

import time
from typing import Protocol

import anyio


class Clock(Protocol):
    def monotonic_s(self) -> float:
        """Seconds from an arbitrary origin, never going backwards."""

    def time_ms(self) -> int:
        """Wall-clock time, epoch milliseconds."""

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""


class SystemClock:
    def monotonic_s(self) -> float:
        return time.monotonic()

    def time_ms(self) -> int:
        return time.time_ns() // 1_000_000

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


class ManualClock:
    """A clock that moves only when told; `sleep` waits until `advance` passes the deadline."""

    def __init__(self, start_ms: int = 0) -> None:
        self._now_ms = float(start_ms)
        self._changed = anyio.Event()

    def monotonic_s(self) -> float:
        return self._now_ms / 1000

    def time_ms(self) -> int:
        return int(self._now_ms)

    def advance(self, seconds: float) -> None:
        self._now_ms += seconds * 1000
        self._changed.set()
        self._changed = anyio.Event()

    async def sleep(self, seconds: float) -> None:
        deadline = self._now_ms + seconds * 1000
        while self._now_ms < deadline:
            await self._changed.wait()
