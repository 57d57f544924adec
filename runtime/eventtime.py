"""Event time: reading a record's timestamp, and the `event_time` operator that makes watermarks.

A timestamp is epoch milliseconds (an int, or a float truncated) or an ISO-8601 string (no zone
means UTC). The watermark is the largest event time seen minus the lateness, sent after each
batch that advances it; an input with no records for `idle` stops holding watermarks back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .clock import Clock
from .item import NEVER, Batch
from .operator import Output, StatelessOperator
from .opstate import EventTimeState, read


class EventTimeError(ValueError):
    pass


def to_epoch_ms(value: Any) -> int:
    """A timestamp value as epoch milliseconds; `EventTimeError` says why it is not one."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise EventTimeError(f"event time {value!r} is not an ISO-8601 time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    if value is None:
        raise EventTimeError("the record has no event time (null or missing)")
    raise EventTimeError(
        f"event time must be epoch ms or an ISO-8601 string, got {type(value).__name__}"
    )


def timed_records(
    batch: Batch, field: str | None, clock: Clock, out: Output
) -> list[tuple[dict, int | None, int]]:
    """(record, offset, time) for a batch: the event time in `field`, or with no field the
    clock's time now (processing time). A record without a valid time goes to `out`'s errors."""
    if field is None:
        now = clock.time_ms()
        return [(r, o, now) for r, o in zip(batch.records, batch.offsets)]
    timed = []
    for record, offset in zip(batch.records, batch.offsets):
        try:
            timed.append((record, offset, read_time(record, field)))
        except EventTimeError as e:
            out.error(record, offset, str(e))
    return timed


def read_time(record: dict, field: str) -> int:
    value = record.get(field)
    return value if type(value) is int else to_epoch_ms(value)


class EventTimeOperator(StatelessOperator):
    """Checks each record's event time and emits `Watermark(max seen − lateness)`."""

    def __init__(self, field: str, lateness_ms: int, idle_ms: int | None, clock: Clock) -> None:
        self.field = field
        self.lateness_ms = lateness_ms
        self.idle_ms = idle_ms
        self.clock = clock
        self.max_seen = NEVER
        self.emitted = NEVER
        self.last_data_ms = clock.time_ms()
        self.idle = False
        self.tick_s = None if idle_ms is None else max(idle_ms / 4000, 0.01)

    def process(self, batch: Batch, port: int, out: Output) -> None:
        field, highest = self.field, self.max_seen
        values = [record.get(field) for record in batch.records]
        if values and set(map(type, values)) == {int}:  # the common case: the batch as it is
            highest = max(highest, *values)  # type: ignore[type-var,assignment]  # all int
            out.records += batch.records
            out.offsets += batch.offsets
        else:
            highest = self._one_by_one(batch, out, highest)
        self.max_seen = highest
        self.last_data_ms = self.clock.time_ms()
        was_idle, self.idle = self.idle, False
        if highest != NEVER and highest - self.lateness_ms > self.emitted:
            self.emitted = highest - self.lateness_ms
            out.watermark = self.emitted
        elif was_idle and self.emitted != NEVER:
            out.watermark = self.emitted  # a normal watermark: downstream waits for us again

    def _one_by_one(self, batch: Batch, out: Output, highest: int) -> int:
        """Check each record's time (strings, floats, bad values); the new largest time."""
        field = self.field
        for record, offset in zip(batch.records, batch.offsets):
            value = record.get(field)
            try:
                ts = value if type(value) is int else to_epoch_ms(value)
            except EventTimeError as e:
                out.error(record, offset, str(e))
                continue
            if ts > highest:
                highest = ts
            out.emit(record, offset)
        return highest

    def on_tick(self, now_ms: int, out: Output) -> None:
        quiet_ms = now_ms - self.last_data_ms
        if self.idle_ms is not None and not self.idle and quiet_ms >= self.idle_ms:
            self.idle = True
            out.idle = True

    def snapshot(self) -> EventTimeState:
        return EventTimeState(self.max_seen, self.emitted)

    def restore(self, raw: Any) -> None:
        state = read(raw, EventTimeState)
        self.max_seen, self.emitted = state.max_seen, state.emitted
