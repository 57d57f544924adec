"""The W2 window rules shared by the peer scripts, as the floor applies them record by record.

Per-user 10 s tumbling windows with a 2 s lateness: a window is emitted once the watermark
(largest event time seen minus 2 s) passes its end, windows in end order, users in first-seen
order; a record whose window has already closed is dropped as late.
"""

from __future__ import annotations

SIZE, LATENESS = 10_000, 2_000


class Windows:
    def __init__(self) -> None:
        self.windows: dict[int, dict[int, list]] = {}
        self.highest = self.fired_until = -(2**63)

    def add(self, ts: int, user: int, latency_ms: float) -> list[dict]:
        """Count one record; the rows of the windows it closes."""
        if ts > self.highest:
            self.highest = ts
        start = ts - ts % SIZE
        if start + SIZE <= max(self.highest - LATENESS, self.fired_until):
            return []  # late
        group = self.windows.setdefault(start, {})
        acc = group.get(user)
        if acc is None:
            group[user] = [1, latency_ms]
        else:
            acc[0] += 1
            acc[1] += latency_ms
        if self.highest - LATENESS > self.fired_until:
            self.fired_until = self.highest - LATENESS
            return self.fire(self.fired_until)
        return []

    def fire(self, until: int) -> list[dict]:
        rows = []
        for start in sorted(s for s in self.windows if s + SIZE <= until):
            for user, (n, total) in self.windows.pop(start).items():
                rows.append(
                    {
                        "window_start": start,
                        "window_end": start + SIZE,
                        "user": user,
                        "n": n,
                        "total": total,
                    }
                )
        return rows

    def finish(self) -> list[dict]:
        return self.fire(2**63 - 1)
