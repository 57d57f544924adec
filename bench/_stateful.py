"""The rules of the stateful workloads W3-W6, record by record, for the peer engines' scripts.

The same rules as the floors (`floor_w3.py` .. `floor_w6.py`, which inline them in one loop for
speed; read those for why each gives rillet's output): each class takes one decoded record at a
time and returns the rows that record released, and `finish` the rest at the end of the input.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

import msgspec

LATENESS = 2_000
NEVER = 2**63 - 1


class Click(msgspec.Struct):
    ts: int
    user: int
    page: str
    status: int
    latency_ms: float


class Order(msgspec.Struct):
    ts: int
    order_id: int
    user: int
    amount: float


class Horizon:
    """The largest event time seen minus the lateness, and when the next sweep is due."""

    def __init__(self, every_ms: int) -> None:
        self.at = self.next_sweep = -NEVER
        self.every = every_ms

    def advance(self, ts: int) -> bool:
        """Whether a sweep is due after seeing `ts`."""
        if ts - LATENESS <= self.at:
            return False
        self.at = ts - LATENESS
        if self.at < self.next_sweep:
            return False
        self.next_sweep = self.at + self.every
        return True


class Sliding:
    """W3: per-user 30 s windows every 10 s, over 10 s panes."""

    SIZE, EVERY = 30_000, 10_000

    def __init__(self) -> None:
        self.panes: dict[int, dict[int, list]] = {}
        self.horizon = Horizon(self.EVERY)
        self.fired_until = -NEVER
        self.arrivals = 0

    def add(self, c: Click) -> list[dict]:
        rows = self.fire(self.horizon.at) if self.horizon.advance(c.ts) else []
        ts, size, every = c.ts, self.SIZE, self.EVERY
        if ts - ts % every + size <= self.horizon.at:
            return rows  # late
        users = self.panes.setdefault(ts - ts % every, {})
        acc = users.get(c.user)
        if acc is None:
            users[c.user] = [1, c.latency_ms, self.arrivals]
            self.arrivals += 1
        else:
            acc[0] += 1
            acc[1] += c.latency_ms
        return rows

    def fire(self, until: int) -> list[dict]:
        size, every, rows = self.SIZE, self.EVERY, []
        starts = {s for p in self.panes for s in range(p - p % every, p - size, -every)}
        for start in sorted(s for s in starts if self.fired_until < s + size <= until):
            merged: dict[int, list] = {}
            for p in range(start, start + size, every):
                for user, (n, total, first) in self.panes.get(p, {}).items():
                    acc = merged.setdefault(user, [0, None, first])
                    acc[0] += n
                    acc[1] = total if acc[1] is None else acc[1] + total
                    acc[2] = min(acc[2], first)
            for user, (n, total, _) in sorted(merged.items(), key=lambda kv: kv[1][2]):
                rows.append(_window_row(start, start + size, user, n, total))
        self.fired_until = max(self.fired_until, until)
        for p in [p for p in self.panes if p - p % every + size <= self.fired_until]:
            del self.panes[p]
        return rows

    def finish(self) -> list[dict]:
        return self.fire(NEVER)


class Sessions:
    """W4: per-user sessions, gap 5 s."""

    GAP = 5_000

    def __init__(self) -> None:
        self.open: dict[int, list[list]] = {}  # user -> [[start, end, count, total, first]]
        self.horizon = Horizon(self.GAP)
        self.arrivals = 0

    def add(self, c: Click) -> list[dict]:
        rows = self.fire(self.horizon.at) if self.horizon.advance(c.ts) else []
        start, end = c.ts, c.ts + self.GAP
        own = self.open.setdefault(c.user, [])
        overlapping = [s for s in own if s[0] < end and start < s[1]]
        for s in overlapping:
            start, end = min(start, s[0]), max(end, s[1])
        if end <= self.horizon.at:
            return rows  # late
        session = [start, end, 1, c.latency_ms, self.arrivals]
        if overlapping:
            session = overlapping[0]
            for s in overlapping[1:]:
                session[2] += s[2]
                session[3] += s[3]
                session[4] = min(session[4], s[4])
                own.remove(s)
            session[:4] = [start, end, session[2] + 1, session[3] + c.latency_ms]
        else:
            own.append(session)
            own.sort(key=lambda s: s[0])
        self.arrivals += 1
        return rows

    def fire(self, until: int) -> list[dict]:
        fired = []
        for user in list(self.open):
            fired += [(s, user) for s in self.open[user] if s[1] <= until]
            kept = [s for s in self.open[user] if s[1] > until]
            if kept:
                self.open[user] = kept
            else:
                del self.open[user]
        fired.sort(key=lambda f: (f[0][1], f[0][4]))
        return [_window_row(s[0], s[1], user, s[2], s[3]) for s, user in fired]

    def finish(self) -> list[dict]:
        return self.fire(NEVER)


class IntervalJoin:
    """W5: each order with its user's clicks at most 5 s away; `add` takes either."""

    WITHIN = 5_000

    def __init__(self) -> None:
        self.held: dict[bool, dict[int, list]] = {True: {}, False: {}}  # by "is an order"
        self.horizons = {True: -NEVER, False: -NEVER}
        self.next_sweep = -NEVER

    def add(self, record: Any) -> list[dict]:
        """`record` is an `Order` or a click (any Struct with a click's fields)."""
        mine = isinstance(record, Order)
        rows = []
        for partner in self.held[not mine].get(record.user, ()):
            if abs(record.ts - partner.ts) <= self.WITHIN:
                order, click = (record, partner) if mine else (partner, record)
                rows.append({**msgspec.structs.asdict(order), **_click_fields(click)})
        self.held[mine].setdefault(record.user, []).append(record)
        self.horizons[mine] = max(self.horizons[mine], record.ts - LATENESS)
        horizon = min(self.horizons.values())
        if horizon >= self.next_sweep:
            for side, held in self.held.items():
                self.held[side] = {
                    user: kept
                    for user, records in held.items()
                    if (kept := [r for r in records if r.ts >= horizon - self.WITHIN])
                }
            self.next_sweep = horizon + self.WITHIN
        return rows

    def finish(self) -> list[dict]:
        return []


class Dedupe:
    """W6: a click is dropped when one of its user and page was kept at most 10 s before."""

    WITHIN = 10_000

    def __init__(self) -> None:
        self.kept: dict[tuple, list[int]] = {}
        self.horizon = Horizon(self.WITHIN)

    def add(self, c: Click) -> list[Click]:
        if self.horizon.advance(c.ts):
            before = self.horizon.at - self.WITHIN
            self.kept = {
                key: kept
                for key, times in self.kept.items()
                if (kept := [t for t in times if t >= before])
            }
        times = self.kept.setdefault((c.user, c.page), [])
        at = bisect_right(times, c.ts)
        if at and c.ts - times[at - 1] <= self.WITHIN:
            return []
        times.insert(at, c.ts)
        return [c]

    def finish(self) -> list[Click]:
        return []


RULES = {"W3": Sliding, "W4": Sessions, "W5": IntervalJoin, "W6": Dedupe}


def _window_row(start: int, end: int, user: int, n: int, total: float) -> dict:
    return {"window_start": start, "window_end": end, "user": user, "n": n, "total": total}


def _click_fields(c: Any) -> dict:
    """A click's fields after an order's, as rillet's join names them."""
    return {"clicks_ts": c.ts, "page": c.page, "status": c.status, "latency_ms": c.latency_ms}
