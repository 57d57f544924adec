"""`rolling`: each record passed on with aggregates over its key's records around it in event
time: those of the last `within` ms, itself and every tie included (`rolling 10m`, SQL's RANGE
frame), or its last `last` records (`rolling last 10`, a ROWS frame).

A record's aggregates are final only once every record at or before its time has arrived, so
records wait until the watermark passes their time, and come out in event-time order (ties in
arrival order). Late records follow the windows' rule (`window.Timed`), the record's time taken
as a window that ends right after it: a record is late when its time is below the horizon, since
records after it may already have gone out without it.

Each key keeps its records sorted by (time, arrival); a released record's aggregates are computed
afresh over its range with the `aggregate` code (ties of a key share one computation), so a record
costs O(records in its range): accumulators can merge but not take a record back out. What no
future record can reach is freed as the watermark passes: records older than watermark −
`within`, or with `last N` all but each key's N − 1 newest released ones.
"""

from __future__ import annotations

import bisect
import heapq
from collections import deque
from typing import Any

from .aggregate import CompiledAggregate
from .clock import Clock
from .codegen import Writer, define
from .expr import describe_error
from .item import Batch
from .operator import Output
from .opstate import RollingState, hashable, read
from .window import Timed


class _Series:
    """One key's records in (event time, arrival no.) order: `stamps` and `entries`, index for
    index."""

    __slots__ = ("entries", "stamps")

    def __init__(self) -> None:
        self.stamps: list[tuple[int, int]] = []
        self.entries: list[tuple[dict, Any]] = []  # (record, offset)

    def add(self, ts: int, seq: int, record: dict, offset: Any) -> None:
        at = bisect.bisect_left(self.stamps, (ts, seq))
        self.stamps.insert(at, (ts, seq))
        self.entries.insert(at, (record, offset))

    def cut(self, count: int) -> None:
        """Forget the `count` oldest records (none when `count` is not positive)."""
        if count > 0:
            del self.stamps[:count], self.entries[:count]


class RollingOperator(Timed):
    """`rolling` over `within` ms of event time, or (`last` given) over the last records."""

    def __init__(
        self,
        aggregate: CompiledAggregate,
        names: tuple[str, ...],
        time_field: str,
        lateness_ms: int,
        within_ms: int | None,
        last: int | None,
        clock: Clock,
    ) -> None:
        super().__init__(aggregate, time_field, lateness_ms, clock, tick_s=1.0)
        self.names = names
        self.fold = _fold(aggregate)
        self.within = within_ms or 0  # read when `last` is None
        self.last = last
        self.series: dict[Any, _Series] = {}
        self.arrivals = 0
        self.pending: list[tuple[int, int, Any]] = []  # heap of (time, arrival no., key)
        self.released: deque[tuple[int, Any]] = deque()  # (time, key), oldest first

    def process(self, batch: Batch, port: int, out: Output) -> None:
        aggregate = self.aggregate
        key_of, update, new = aggregate.key_of, aggregate.update, aggregate.new_accumulators
        self.begin(batch)
        for record, offset, ts in self.times(batch, out):
            if ts < self.advance(ts):  # records after it may have gone out without it
                out.emit_late(record, offset)
                continue
            try:
                key = key_of(record)
                series = self.series.get(key)
                update(new(), record)  # its own values: a record that fails is not kept
            except Exception as e:  # a bad value for an aggregate or an unhashable key
                out.error(record, offset, str(e))
                continue
            if series is None:
                series = self.series[key] = _Series()
            series.add(ts, self.arrivals, record, offset)
            heapq.heappush(self.pending, (ts, self.arrivals, key))
            self.arrivals += 1
        self.finish(batch)

    def on_watermark(self, ts_ms: int, out: Output) -> None:
        if ts_ms <= self.watermark:
            return
        self.watermark = ts_ms
        touched = self._release(ts_ms, out)
        if self.last is not None:
            for key in touched:
                series = self.series[key]
                series.cut(bisect.bisect_left(series.stamps, (ts_ms,)) - (self.last - 1))
        else:
            self._expire(ts_ms - self.within)

    def _release(self, watermark: int, out: Output) -> set[Any]:
        """Emit the records the watermark has passed, in (time, arrival) order; the keys they
        belong to."""
        pending, touched = self.pending, set()
        shared: dict[tuple[Any, int], dict | str] = {}  # a key's ties share their aggregates
        while pending and pending[0][0] < watermark:
            ts, seq, key = heapq.heappop(pending)
            series = self.series[key]
            at = bisect.bisect_left(series.stamps, (ts, seq))
            record, offset = series.entries[at]
            touched.add(key)
            if self.last is not None:
                row = self._compute(key, series.entries[max(0, at - self.last + 1) : at + 1])
            else:
                if (key, ts) not in shared:
                    low = bisect.bisect_left(series.stamps, (ts - self.within,))
                    high = bisect.bisect_left(series.stamps, (ts + 1,))
                    shared[key, ts] = self._compute(key, series.entries[low:high])
                row = shared[key, ts]
                self.released.append((ts, key))
            if isinstance(row, str):
                out.error(record, offset, row)
            else:
                out.emit({**record, **row}, offset)
        return touched

    def _compute(self, key: Any, entries: list[tuple[dict, Any]]) -> dict | str:
        """The items over `entries`, or why they cannot be computed."""
        aggregate = self.aggregate
        accs = aggregate.new_accumulators()
        try:
            self.fold(accs, entries)
        except Exception as e:  # values that cannot be combined
            return str(e)
        try:
            row = aggregate.result(key, accs)
        except Exception as e:  # an item's division by zero, a sum beyond 64 bits
            return describe_error(e)
        return {name: row[name] for name in self.names}

    def _expire(self, bound: int) -> None:
        """Forget the released records older than `bound`: no record to come reaches them."""
        released, series = self.released, self.series
        while released and released[0][0] < bound:
            _, key = released.popleft()
            kept = series.get(key)
            if kept is None:
                continue
            kept.cut(bisect.bisect_left(kept.stamps, (bound,)))
            if not kept.stamps:
                del series[key]

    def snapshot(self) -> RollingState:
        return RollingState(
            self.watermark,
            dict(self.seen),
            self.arrivals,
            [
                (key, [(*stamp, *entry) for stamp, entry in zip(s.stamps, s.entries)])
                for key, s in self.series.items()
            ],
        )

    def restore(self, raw: Any) -> None:
        state = read(raw, RollingState)
        self.watermark, self.seen = state.watermark, dict(state.seen)
        self.arrivals = state.arrivals
        self.series, self.pending = {}, []
        released = []
        for saved_key, saved in state.series:
            key = hashable(saved_key)
            series = self.series[key] = _Series()
            for ts, seq, record, offset in saved:
                series.add(ts, seq, record, offset)
                if ts >= self.watermark:
                    self.pending.append((ts, seq, key))
                else:
                    released.append((ts, seq, key))
        heapq.heapify(self.pending)
        if self.last is None:
            released.sort(key=lambda entry: entry[:2])  # by (time, arrival no.), not by key
            self.released = deque((ts, key) for ts, _, key in released)


def _fold(aggregate: CompiledAggregate) -> Any:
    """`fold(accs, entries)`: the accumulators updated with each (record, offset) of a frame,
    in one generated loop with the updates inlined (a frame is folded once per record)."""
    w = Writer()
    with w.block("def _fold(accs, entries):"):
        with w.block("for r, _ in entries:"):
            w.line(*aggregate.update_lines or ["pass"])
    (fold,) = define(w, "rolling", aggregate.namespace, "_fold")
    return fold
