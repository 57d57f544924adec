"""Keyed operators over event time: `dedupe`, and the `lookup` enrichment (`join` is in
join.py).

`dedupe` remembers, per key, the event times of the records it kept, and forgets what the
watermark has made irrelevant (an entry no future on-time record can match), so its memory
follows the time span of the data, not its size. Without `event_time` upstream, a record's time
is the clock's when it arrives.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from .clock import Clock
from .eventtime import EventTimeError, indexed_times, timed_records, to_epoch_ms
from .expiry import ExpiryQueue
from .item import Batch, picked
from .operator import Output, StatelessOperator
from .opstate import DedupeState, hashable, read


class TimeReader:
    def __init__(self, time_field: str | None, clock: Clock) -> None:
        self.time_field = time_field
        self.clock = clock

    def times(self, batch: Batch, out: Output) -> list[tuple[dict, int | None, int]]:
        return timed_records(batch, self.time_field, self.clock, out)

    def indexed(self, batch: Batch, out: Output) -> list[tuple[dict, int, int]]:
        return indexed_times(batch, self.time_field, self.clock, out)


def _key_functions(keys: tuple[str, ...]) -> tuple[Callable[[dict], Any], Callable[[dict], Any]]:
    """The value of a single key field, else the tuple of them: read in C by `itemgetter`, which
    raises KeyError for a record lacking one, and the slow reading then, with null for it."""

    def with_nulls(record: dict) -> Any:
        values = tuple(record.get(k) for k in keys)
        return values if len(values) > 1 else values[0]

    return itemgetter(*keys), with_nulls


class DedupeOperator(StatelessOperator):
    """Drops a record when one with the same keys was kept at most `within` ms of event time
    before it (at or before its own time).

    Kept times are forgotten in time order, through an `ExpiryQueue`."""

    def __init__(
        self, keys: tuple[str, ...], within_ms: int, time_field: str | None, clock: Clock
    ) -> None:
        self.key_of, self.key_with_nulls = _key_functions(keys)
        self.within = within_ms
        self.reader = TimeReader(time_field, clock)
        self.kept: dict[Any, list[int]] = {}  # key -> sorted event times of kept records
        self.expiry = ExpiryQueue()  # (time kept, key)
        self.tick_s = None if time_field is not None else max(within_ms / 1000, 0.05)

    def process(self, batch: Batch, port: int, out: Output) -> None:
        """Each record's time is read in the loop (no list of timed records): an int is the
        common case, anything else is converted or becomes a time error. Time errors come
        before the batch's other errors, as everywhere."""
        kept, within, key_of, expiry = self.kept, self.within, self.key_of, self.expiry
        queued_times, queued_keys, newest = expiry.times, expiry.keys, expiry.newest()
        kept_records: list[dict] = []
        kept_indexes: list[int] = []  # the offsets of those kept are read only if needed
        emit_record, emit_index = kept_records.append, kept_indexes.append
        field = self.reader.time_field
        now = self.reader.clock.time_ms() if field is None else 0
        errors = []
        offsets = batch.offsets
        for index, record in enumerate(batch.records):
            if field is None:
                ts = now
            else:
                try:
                    ts = record[field]
                except KeyError:
                    ts = None  # no event time: a time error below
            if type(ts) is not int:
                try:
                    ts = to_epoch_ms(ts)
                except EventTimeError as e:
                    out.error(record, offsets[index], str(e))
                    continue
            try:
                try:
                    key = key_of(record)
                except KeyError:
                    key = self.key_with_nulls(record)
                times = kept.get(key)
            except TypeError as e:
                errors.append((record, offsets[index], str(e)))
                continue
            if times is None:
                kept[key] = [ts]
            elif ts >= (last := times[-1]):  # in order: only the newest kept time can reach it
                if ts - last <= within:
                    continue
                times.append(ts)
            else:
                at = bisect.bisect_right(times, ts)
                if at and ts - times[at - 1] <= within:
                    continue
                times.insert(at, ts)
            if ts >= newest:  # the common case, inlined `expiry.add`
                queued_times.append(ts)
                queued_keys.append(key)
                newest = ts
            else:
                expiry.add(ts, key)
            emit_record(record)
            emit_index(index)
        out.pass_on(kept_records, picked(offsets, kept_indexes))
        out.errors += errors

    def on_watermark(self, ts_ms: int, out: Output) -> None:
        """Forget the times before the horizon: only the keys that hold one are visited, in
        time order, so the cost follows what expires, not how many keys are kept."""
        horizon = ts_ms - self.within
        kept = self.kept
        for key in self.expiry.take_before(horizon):
            times = kept.get(key)
            if times is None:
                continue  # forgotten when an earlier time of it expired
            if times[-1] < horizon:
                del kept[key]
            else:
                del times[: bisect.bisect_left(times, horizon)]

    def on_tick(self, now_ms: int, out: Output) -> None:
        if self.reader.time_field is None:
            self.on_watermark(now_ms, out)

    def snapshot(self) -> DedupeState:
        return DedupeState(list(self.kept.items()))

    def restore(self, raw: Any) -> None:
        self.kept = {hashable(key): list(times) for key, times in read(raw, DedupeState).kept}
        self.expiry = ExpiryQueue()
        entries = [(ts, key) for key, times in self.kept.items() for ts in times]
        for ts, key in sorted(entries, key=lambda entry: entry[0]):
            self.expiry.add(ts, key)


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
