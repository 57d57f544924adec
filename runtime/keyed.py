"""Keyed operators over event time: `dedupe`, and the `lookup` enrichment (`join` is in
join.py).

`dedupe` remembers, per key, the event times of the records it kept, and forgets what the
watermark has made irrelevant (an entry no future on-time record can match), so its memory
follows the time span of the data, not its size. Without `event_time` upstream, a record's time
is the clock's when it arrives.
"""

from __future__ import annotations

import bisect
import heapq
from typing import Any

from .clock import Clock
from .eventtime import timed_records
from .item import Batch
from .operator import Output, StatelessOperator
from .opstate import DedupeState, hashable, read


class TimeReader:
    def __init__(self, time_field: str | None, clock: Clock) -> None:
        self.time_field = time_field
        self.clock = clock

    def times(self, batch: Batch, out: Output) -> list[tuple[dict, int | None, int]]:
        return timed_records(batch, self.time_field, self.clock, out)


def _key_function(keys: tuple[str, ...]):
    if len(keys) == 1:
        (only,) = keys
        return lambda r: r.get(only)
    return lambda r: tuple(r.get(k) for k in keys)


class DedupeOperator(StatelessOperator):
    """Drops a record when one with the same keys was kept at most `within` ms of event time
    before it (at or before its own time)."""

    def __init__(
        self, keys: tuple[str, ...], within_ms: int, time_field: str | None, clock: Clock
    ) -> None:
        self.key_of = _key_function(keys)
        self.within = within_ms
        self.reader = TimeReader(time_field, clock)
        self.kept: dict[Any, list[int]] = {}  # key -> sorted event times of kept records
        self.expiry: list[tuple[int, int, Any]] = []  # (time kept, arrival no., key): a heap
        self.arrivals = 0
        self.tick_s = None if time_field is not None else max(within_ms / 1000, 0.05)

    def _remember(self, key: Any, ts: int) -> None:
        heapq.heappush(self.expiry, (ts, self.arrivals, key))
        self.arrivals += 1

    def process(self, batch: Batch, port: int, out: Output) -> None:
        kept, within, key_of = self.kept, self.within, self.key_of
        for record, offset, ts in self.reader.times(batch, out):
            try:
                key = key_of(record)
                times = kept.get(key)
            except TypeError as e:
                out.error(record, offset, str(e))
                continue
            if times is None:
                kept[key] = [ts]
                self._remember(key, ts)
                out.emit(record, offset)
                continue
            at = bisect.bisect_right(times, ts)
            if at and ts - times[at - 1] <= within:
                continue
            times.insert(at, ts)
            self._remember(key, ts)
            out.emit(record, offset)

    def on_watermark(self, ts_ms: int, out: Output) -> None:
        """Forget the times before the horizon: only the keys that hold one are visited, in
        time order, so the cost follows what expires, not how many keys are kept."""
        horizon, expiry, kept = ts_ms - self.within, self.expiry, self.kept
        while expiry and expiry[0][0] < horizon:
            key = heapq.heappop(expiry)[2]
            times = kept.get(key)
            if times is None:
                continue  # forgotten when an earlier time of it expired
            del times[: bisect.bisect_left(times, horizon)]
            if not times:
                del kept[key]

    def on_tick(self, now_ms: int, out: Output) -> None:
        if self.reader.time_field is None:
            self.on_watermark(now_ms, out)

    def snapshot(self) -> DedupeState:
        return DedupeState(list(self.kept.items()))

    def restore(self, raw: Any) -> None:
        self.kept = {hashable(key): list(times) for key, times in read(raw, DedupeState).kept}
        self.expiry, self.arrivals = [], 0
        for key, times in self.kept.items():
            for ts in times:
                self._remember(key, ts)


class LookupOperator(StatelessOperator):
    """Adds a table's fields (all but its key) to each record by the record's `on` field; a
    missing key leaves them null. Table fields replace record fields of the same name."""

    def __init__(
        self, on: str, rows: dict[Any, dict], fields: list[str], keys_as_text: bool
    ) -> None:
        self.on = on
        self.rows = rows
        self.fields = fields
        self.keys_as_text = keys_as_text
        self.missing = dict.fromkeys(fields)

    def process(self, batch: Batch, port: int, out: Output) -> None:
        rows, on, fields, missing = self.rows, self.on, self.fields, self.missing
        as_text = self.keys_as_text
        for record, offset in zip(batch.records, batch.offsets):
            key = record.get(on)
            if as_text and key is not None and not isinstance(key, str):
                key = str(key).lower() if isinstance(key, bool) else str(key)
            try:
                row = rows.get(key) if key is not None else None  # null matches no row
            except TypeError as e:
                out.error(record, offset, str(e))
                continue
            extra = missing if row is None else {f: row.get(f) for f in fields}
            out.emit({**record, **extra}, offset)
