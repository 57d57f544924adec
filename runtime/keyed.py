"""Keyed operators over event time: `dedupe`, `join`, and the `lookup` enrichment.

`dedupe` remembers, per key, the event times of the records it kept; `join` buffers both sides
per key. Both forget what the watermark has made irrelevant (an entry no future on-time record
can match), so their memory follows the time span of the data, not its size. Without
`event_time` upstream, a record's time is the clock's when it arrives.
"""

from __future__ import annotations

import bisect
from typing import Any

from .clock import Clock
from .eventtime import timed_records
from .item import Batch
from .operator import Output, StatelessOperator
from .opstate import DedupeState, JoinState, hashable, read


class _TimeReader:
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
        self.reader = _TimeReader(time_field, clock)
        self.kept: dict[Any, list[int]] = {}  # key -> sorted event times of kept records
        self.tick_s = None if time_field is not None else max(within_ms / 1000, 0.05)

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
                out.emit(record, offset)
                continue
            at = bisect.bisect_right(times, ts)
            if at and ts - times[at - 1] <= within:
                continue
            times.insert(at, ts)
            out.emit(record, offset)

    def on_watermark(self, ts_ms: int, out: Output) -> None:
        horizon = ts_ms - self.within
        for key in list(self.kept):
            times = self.kept[key]
            del times[: bisect.bisect_left(times, horizon)]
            if not times:
                del self.kept[key]

    def on_tick(self, now_ms: int, out: Output) -> None:
        if self.reader.time_field is None:
            self.on_watermark(now_ms, out)

    def snapshot(self) -> DedupeState:
        return DedupeState(list(self.kept.items()))

    def restore(self, raw: Any) -> None:
        self.kept = {hashable(key): list(times) for key, times in read(raw, DedupeState).kept}


class JoinOperator(StatelessOperator):
    """Inner join of port 0 (left) and port 1 (right) on equal `on`, event times at most
    `within` ms apart. The right side's fields that clash with the left's (other than `on`)
    are renamed `{right_name}_{field}`."""

    def __init__(
        self,
        on: str,
        within_ms: int,
        right_name: str,
        left_time: str | None,
        right_time: str | None,
        clock: Clock,
    ) -> None:
        self.on = on
        self.within = within_ms
        self.prefix = f"{right_name}_"
        self.readers = (_TimeReader(left_time, clock), _TimeReader(right_time, clock))
        self.buffers: tuple[dict[Any, list], dict[Any, list]] = ({}, {})
        self.tick_s = None if left_time and right_time else max(within_ms / 1000, 0.05)

    def _merge(self, left: dict, right: dict) -> dict:
        merged = dict(left)
        for name, value in right.items():
            if name == self.on:
                continue
            merged[self.prefix + name if name in left else name] = value
        return merged

    def process(self, batch: Batch, port: int, out: Output) -> None:
        mine, theirs = self.buffers[port], self.buffers[1 - port]
        on, within = self.on, self.within
        for record, offset, ts in self.readers[port].times(batch, out):
            key = record.get(on)
            if key is None:
                continue
            try:
                matches = theirs.get(key, ())
            except TypeError as e:
                out.error(record, offset, str(e))
                continue
            for other_ts, other in matches:
                if abs(ts - other_ts) <= within:
                    pair = (record, other) if port == 0 else (other, record)
                    out.emit(self._merge(*pair), offset)
            mine.setdefault(key, []).append((ts, record))

    def on_watermark(self, ts_ms: int, out: Output) -> None:
        horizon = ts_ms - self.within
        for buffer in self.buffers:
            for key in list(buffer):
                entries = [e for e in buffer[key] if e[0] >= horizon]
                if entries:
                    buffer[key] = entries
                else:
                    del buffer[key]

    def on_tick(self, now_ms: int, out: Output) -> None:
        self.on_watermark(now_ms, out)

    def snapshot(self) -> JoinState:
        left, right = ([*buffer.items()] for buffer in self.buffers)
        return JoinState(left, right)

    def restore(self, raw: Any) -> None:
        state = read(raw, JoinState)
        left, right = (
            {hashable(k): list(e) for k, e in side} for side in (state.left, state.right)
        )
        self.buffers = (left, right)


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
