"""The stream-stream `join`: both sides' records buffered per key, each record paired with the
other side's records already buffered under its key whose event times are at most `within`
apart.

Each side keeps its records per key in arrival order, and a heap of (event time, arrival
number, key) beside them: the watermark frees records oldest first, popping only those older
than its horizon, so expiry costs what expires, not what is held. Without `event_time`
upstream, a record's time is the clock's when it arrives.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from typing import Any

from .clock import Clock
from .item import Batch
from .keyed import TimeReader
from .operator import Output, StatelessOperator
from .opstate import JoinState, hashable, read
from .plan import Join

Entry = tuple[int, dict]  # (event time, record)


class Side:
    """One side's buffered records: per key, by arrival number, in arrival order; those of a
    side that `expires` also in a heap by time."""

    def __init__(self, expires: bool) -> None:
        self.by_key: dict[Any, dict[int, Entry]] = {}
        self.expires = expires
        self.expiry: list[tuple[int, int, Any]] = []  # a heap of (time, arrival number, key)
        self.arrivals = 0

    def add(self, key: Any, ts: int, record: dict) -> None:
        self.by_key.setdefault(key, {})[self.arrivals] = (ts, record)
        if self.expires:
            heapq.heappush(self.expiry, (ts, self.arrivals, key))
        self.arrivals += 1

    def matches(self, key: Any) -> Iterator[Entry]:
        """The records buffered under `key`, in arrival order (TypeError: a list or record)."""
        entries = self.by_key.get(key)
        return iter(entries.values()) if entries else iter(())

    def expire(self, horizon: int) -> None:
        """Forget the records older than `horizon`, oldest first."""
        expiry, by_key = self.expiry, self.by_key
        while expiry and expiry[0][0] < horizon:
            _, arrival, key = heapq.heappop(expiry)
            entries = by_key[key]
            del entries[arrival]
            if not entries:
                del by_key[key]

    def grouped(self) -> list[tuple[Any, list[Entry]]]:
        return [(key, list(entries.values())) for key, entries in self.by_key.items()]

    @classmethod
    def of(cls, grouped: list[tuple[Any, list[Entry]]], expires: bool) -> Side:
        """A side holding a snapshot's records (their keys as msgpack gave them back)."""
        side = cls(expires)
        for key, entries in grouped:
            for ts, record in entries:
                side.add(hashable(key), ts, record)
        return side


def key_function(fields: tuple[str, ...]) -> Callable[[dict], Any]:
    """A record's key: its one key field's value, or a tuple of its key fields' values; None
    when any is null or missing, since such a record matches nothing (as in SQL)."""
    if len(fields) == 1:
        (only,) = fields
        return lambda r: r.get(only)

    def key(record: dict) -> tuple | None:
        values = tuple(record.get(f) for f in fields)
        return None if None in values else values

    return key


class JoinOperator(StatelessOperator):
    """Inner join of port 0 (left) and port 1 (right) on equal keys (the left's `on` fields,
    the right's `right_on`), event times at most `within` ms apart (None: any; both sides are
    kept to the end). The right side's fields that clash with the left's are renamed
    `{right_name}_{field}`; its copy of a key both sides name alike is left out."""

    def __init__(self, op: Join, clock: Clock) -> None:
        self.keys = (key_function(op.left_keys), key_function(op.right_keys))
        self.shared = frozenset(a for a, b in zip(op.left_keys, op.right_keys) if a == b)
        self.within = op.within_ms
        self.prefix = f"{op.right}_"
        self.readers = (TimeReader(op.left_time, clock), TimeReader(op.right_time, clock))
        expires = op.within_ms is not None
        self.sides = (Side(expires), Side(expires))
        timed = op.left_time and op.right_time
        self.tick_s = None if timed or op.within_ms is None else max(op.within_ms / 1000, 0.05)

    def _merge(self, left: dict, right: dict) -> dict:
        merged = dict(left)
        shared, prefix = self.shared, self.prefix
        for name, value in right.items():
            if name not in shared:
                merged[prefix + name if name in left else name] = value
        return merged

    def process(self, batch: Batch, port: int, out: Output) -> None:
        mine, theirs = self.sides[port], self.sides[1 - port]
        key_of, within = self.keys[port], self.within
        for record, offset, ts in self.readers[port].times(batch, out):
            key = key_of(record)
            if key is None:
                continue
            try:
                matches = theirs.matches(key)
            except TypeError as e:
                out.error(record, offset, str(e))
                continue
            for other_ts, other in matches:
                if within is None or abs(ts - other_ts) <= within:
                    pair = (record, other) if port == 0 else (other, record)
                    out.emit(self._merge(*pair), offset)
            mine.add(key, ts, record)

    def on_watermark(self, ts_ms: int, out: Output) -> None:
        if self.within is None:
            return
        for side in self.sides:
            side.expire(ts_ms - self.within)

    def on_tick(self, now_ms: int, out: Output) -> None:
        self.on_watermark(now_ms, out)

    def snapshot(self) -> JoinState:
        left, right = (side.grouped() for side in self.sides)
        return JoinState(left, right)

    def restore(self, raw: Any) -> None:
        state = read(raw, JoinState)
        expires = self.within is not None
        self.sides = (Side.of(state.left, expires), Side.of(state.right, expires))
