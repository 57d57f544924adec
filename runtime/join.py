"""The stream-stream `join`: both sides' records buffered per key, each record paired with the
other side's records already buffered under its key whose event times are at most `within`
apart (any, without `within`). A left join also writes each left record that found no partner,
the right side's fields null, once no partner can come any more: when the watermark has
passed it by `within`, or at the end of the input.

Each side keeps its records per key in arrival order, and (event time, arrival number, key)
beside them in time order (a deque, and a heap for records that came out of order): the
watermark frees records oldest first, popping only those older than its horizon, so expiry costs
what expires, not what is held. Without `event_time`
upstream, a record's time is the clock's when it arrives.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from typing import Any

from .clock import Clock
from .item import Batch
from .keyed import TimeReader
from .operator import Output, StatelessOperator
from .opstate import JoinState, hashable, read
from .plan import Join

Entry = tuple[int, dict]  # (event time, record)


def _time(match: tuple[int, Entry]) -> int:
    return match[1][0]


class Side:
    """One side's buffered records: per key, by arrival number, in arrival order; those of a
    side that `expires` also in a heap by time. `waiting` holds, by arrival number, the
    records that have found no partner yet (the left side of a left join only)."""

    def __init__(self, expires: bool) -> None:
        self.by_key: dict[Any, dict[int, Entry]] = {}
        self.expires = expires
        # (time, arrival number, key): a deque for the records that came in time order (the
        # common case, forgotten by `popleft`), a heap for the others
        self.in_order: deque[tuple[int, int, Any]] = deque()
        self.expiry: list[tuple[int, int, Any]] = []
        self.waiting: dict[int, dict] = {}
        self.arrivals = 0

    def add(self, key: Any, ts: int, record: dict, waits: bool = False) -> None:
        arrival = self.arrivals
        entries = self.by_key.get(key)
        if entries is None:
            self.by_key[key] = {arrival: (ts, record)}
        else:
            entries[arrival] = (ts, record)
        if self.expires:
            in_order = self.in_order
            if in_order and ts < in_order[-1][0]:
                heapq.heappush(self.expiry, (ts, arrival, key))
            else:
                in_order.append((ts, arrival, key))
        if waits:
            self.waiting[arrival] = record
        self.arrivals += 1

    def expire(self, horizon: int) -> list[dict]:
        """Forget the records older than `horizon`, oldest first; those still waiting."""
        in_order, expiry = self.in_order, self.expiry
        gone = []
        while in_order and in_order[0][0] < horizon:
            gone.append(in_order.popleft())
        if expiry and expiry[0][0] < horizon:
            while expiry and expiry[0][0] < horizon:
                gone.append(heapq.heappop(expiry))
            gone.sort(key=lambda entry: (entry[0], entry[1]))
        by_key, waiting = self.by_key, self.waiting
        unmatched = []
        for _, arrival, key in gone:
            entries = by_key[key]
            del entries[arrival]
            if not entries:
                del by_key[key]
            if waiting and arrival in waiting:
                unmatched.append(waiting.pop(arrival))
        return unmatched

    def records(self) -> list[tuple[Any, int, dict, bool]]:
        """(key, event time, record, matched yet) of every record held, in arrival order."""
        held = [
            (arrival, key, ts, record)
            for key, entries in self.by_key.items()
            for arrival, (ts, record) in entries.items()
        ]
        held.sort(key=lambda h: h[0])
        return [(key, ts, record, a not in self.waiting) for a, key, ts, record in held]

    @classmethod
    def of(cls, records: list[tuple[Any, int, dict, bool]], expires: bool) -> Side:
        """A side holding a snapshot's records (their keys as msgpack gave them back)."""
        side = cls(expires)
        for key, ts, record, matched in records:
            side.add(hashable(key), ts, record, waits=not matched)
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
    """Join of port 0 (left) and port 1 (right) on equal keys (the left's `on` fields, the
    right's `right_on`), event times at most `within` ms apart (None: any; both sides are kept
    to the end). The right side's fields that clash with the left's are renamed
    `{right_name}_{field}`; its copy of a key both sides name alike is left out. A left join
    writes a left record without partner with `nulls`, the right's fields when known."""

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
        self.left_join = op.kind == "left"
        self.nulls = dict.fromkeys(op.right_fields or ())

    def _merge(self, left: dict, right: dict) -> dict:
        merged = dict(left)
        shared, prefix = self.shared, self.prefix
        for name, value in right.items():
            if name not in shared:
                merged[prefix + name if name in left else name] = value
        return merged

    def process(self, batch: Batch, port: int, out: Output) -> None:
        their_keys = self.sides[1 - port].by_key
        key_of, add = self.keys[port], self.sides[port].add
        waits = port == 0 and self.left_join
        for record, offset, ts in self.readers[port].times(batch, out):
            key = key_of(record)
            if key is None:
                if waits:  # it can meet no partner: out at once
                    out.emit(self._merge(record, self.nulls), offset)
                continue
            try:
                matches = their_keys.get(key)
            except TypeError as e:  # a list or record key
                out.error(record, offset, str(e))
                continue
            paired = matches is not None and self._pair(record, ts, port, matches, offset, out)
            add(key, ts, record, waits and not paired)

    def _pair(
        self,
        record: dict,
        ts: int,
        port: int,
        matches: dict[int, Entry],
        offset: int | None,
        out: Output,
    ) -> bool:
        """Emits `record` paired with each of `matches` (the other side's records under its
        key, in arrival order) close enough in time, in the order of their event time, then
        arrival, so a `dedupe` after the join keeps the earliest of them, as on Flink
        (docs/flink.md); whether any was paired (those on the left stop waiting)."""
        within, waiting = self.within, self.sides[0].waiting
        paired = False
        ordered = matches.items() if len(matches) == 1 else sorted(matches.items(), key=_time)
        for arrival, (other_ts, other) in ordered:
            if within is None or abs(ts - other_ts) <= within:
                paired = True
                if port == 0:
                    out.emit(self._merge(record, other), offset)
                else:
                    out.emit(self._merge(other, record), offset)
                    waiting.pop(arrival, None)
        return paired

    def on_watermark(self, ts_ms: int, out: Output) -> None:
        if self.within is None:
            return
        left, right = self.sides
        for record in left.expire(ts_ms - self.within):
            out.emit(self._merge(record, self.nulls))
        right.expire(ts_ms - self.within)

    def on_tick(self, now_ms: int, out: Output) -> None:
        self.on_watermark(now_ms, out)

    def on_end(self, out: Output) -> None:
        """The left records still waiting can find no partner now, in arrival order."""
        waiting = self.sides[0].waiting
        for record in waiting.values():
            out.emit(self._merge(record, self.nulls))
        waiting.clear()

    def snapshot(self) -> JoinState:
        left, right = self.sides
        return JoinState(left.records(), [(k, ts, r) for k, ts, r, _ in right.records()])

    def restore(self, raw: Any) -> None:
        state = read(raw, JoinState)
        expires = self.within is not None
        right = [(key, ts, record, True) for key, ts, record in state.right]
        self.sides = (Side.of(state.left, expires), Side.of(right, expires))
