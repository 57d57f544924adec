"""A time-ordered index of keys, for state that is forgotten once the watermark passes it
(`dedupe`'s kept times): forgetting then costs what expires, not a walk over every key.

Times that arrive in order (the common case) are appended to two parallel lists, and those
that expire are found by one bisection and taken as one slice: no tuple per entry and no pop
per entry. Only times older than the newest already queued go to a heap.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from typing import Any

from .item import NEVER

COMPACT_AFTER = 4096
"""Expired entries at the front of the lists are dropped in one go once there are this many
and they are at least half the lists, so the lists stay within twice what is live."""


class ExpiryQueue:
    """(time, key) entries taken out in time order by `take_before`."""

    def __init__(self, compact_after: int = COMPACT_AFTER) -> None:
        self.compact_after = compact_after
        self.times: list[int] = []
        self.keys: list[Any] = []
        self.start = 0  # entries before it are taken
        self.out_of_order: list[tuple[int, int, Any]] = []  # (time, arrival no., key): a heap
        self.arrivals = 0

    def add(self, ts: int, key: Any) -> None:
        times = self.times
        if len(times) == self.start or times[-1] <= ts:
            times.append(ts)
            self.keys.append(key)
        else:
            heapq.heappush(self.out_of_order, (ts, self.arrivals, key))
            self.arrivals += 1

    def take_before(self, horizon: int) -> list[Any]:
        """The keys of the entries older than `horizon` (a key once per entry), taken out."""
        times, start = self.times, self.start
        end = bisect_left(times, horizon, start)
        expired = self.keys[start:end]
        if end >= self.compact_after and 2 * end >= len(times):
            del times[:end], self.keys[:end]
            end = 0
        self.start = end
        heap = self.out_of_order
        while heap and heap[0][0] < horizon:
            expired.append(heapq.heappop(heap)[2])
        return expired

    def newest(self) -> int:
        """The time an entry must reach to be queued in order (not on the heap)."""
        return self.times[-1] if len(self.times) > self.start else NEVER
