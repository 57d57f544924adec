"""Event time: reading a record's timestamp, and the `event_time` operator that makes watermarks.

A timestamp is epoch milliseconds (an int, or a float truncated) or an ISO-8601 string (no zone
means UTC). Event time is kept per *part*: each part of a `Parted` source (a Kafka partition)
runs in its own order, and every other source's records are one part together. The watermark
is the least over the parts of the largest event time each has sent, minus the lateness, sent
after each batch that advances it: a lagging part holds it back instead of seeing its records
made late. A part with no records for `idle` stops counting until it sends again; when every
part is idle, the input is (downstream stops waiting for it). A part first seen once watermarks
were sent holds the watermark where it is until it catches up, never moving it back: its
records are judged against the watermark already sent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any

import msgspec

from .clock import Clock
from .item import NEVER, Batch, Origin
from .operator import Output, StatelessOperator
from .opstate import EventTimeState, read

if TYPE_CHECKING:
    from .alignment import Alignment


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
    offsets = list(batch.offsets)
    return [(r, offsets[i], ts) for r, i, ts in indexed_times(batch, field, clock, out)]


def indexed_times(
    batch: Batch, field: str | None, clock: Clock, out: Output
) -> list[tuple[dict, int, int]]:
    """As `timed_records`, with each record's index in the batch instead of its offset: an
    operator that reads an offset only now and then (`batch.offsets[index]`) leaves them
    unread, and passes on those of what it emits with `item.Picked`."""
    records = batch.records
    if field is None:
        now = clock.time_ms()
        return [(r, i, now) for i, r in enumerate(records)]
    stamps = _field_values(records, field)
    if set(map(type, stamps)) == {int}:  # the common case: epoch ms in every record
        return list(zip(records, range(len(records)), stamps))  # all int
    timed = []
    for index, record in enumerate(records):
        try:
            timed.append((record, index, read_time(record, field)))
        except EventTimeError as e:
            out.error(record, batch.offsets[index], str(e))
    return timed


def _field_values(records: list[dict], field: str) -> list[Any]:
    """Each record's `field` (None where missing): read in C while every record has it."""
    try:
        return list(map(itemgetter(field), records))
    except (KeyError, TypeError):
        return [record.get(field) for record in records]


def read_time(record: dict, field: str) -> int:
    value = record.get(field)
    return value if type(value) is int else to_epoch_ms(value)


class _Part(msgspec.Struct):
    newest: int
    """The largest event time the part has sent (`NEVER` until it sends)."""
    last_ms: int
    """When its last batch came (the clock's time), for `idle`."""
    idle: bool = False


def _int_max(values: list[Any]) -> int | None:
    """The largest of a typed batch's times when they are all ints, in one pass: a schema's
    field holds one type or null, and `max` fails on a null among ints."""
    if not values or type(values[0]) is not int:
        return None
    try:
        return max(values)
    except TypeError:
        return None


class EventTimeOperator(StatelessOperator):
    """Checks each record's event time and emits `Watermark(least over the parts still counting
    of their largest time seen − lateness)`."""

    def __init__(
        self,
        field: str,
        lateness_ms: int,
        idle_ms: int | None,
        clock: Clock,
        attr: str | None = None,
    ) -> None:
        """`attr`: the time's attribute when records are Structs (`typedflow.py`)."""
        self.field = field
        self._times = attrgetter(attr) if attr is not None else None
        self.lateness_ms = lateness_ms
        self.idle_ms = idle_ms
        self.clock = clock
        self.parts: dict[str | None, _Part] = {}  # None: the records of sources without parts
        self.listed: set[tuple[str, tuple[str, ...]]] = set()  # (source, its parts) seen
        self.emitted = NEVER
        self.started_ms = clock.time_ms()
        self.idle = False  # said downstream that every part is idle
        self.tick_s = None if idle_ms is None else max(idle_ms / 4000, 0.01)
        self.alignment: Alignment | None = None
        """The group of the sources this operator's records come from (`alignment.py`)."""

    def process(self, batch: Batch, port: int, out: Output) -> None:
        part = self._part(batch.origin)
        field, newest = self.field, part.newest
        if self._times is None:
            values = _field_values(batch.records, field)
            top = max(values) if values and set(map(type, values)) == {int} else None
        else:
            top = _int_max(list(map(self._times, batch.records)))
        if top is not None:  # the common case, all ints: the batch as it is
            highest = max(newest, top)
            out.pass_on(batch.records, batch.offsets)
        else:
            highest = self._one_by_one(batch, out, newest)
        part.last_ms = self.clock.time_ms()
        part.idle = False
        was_idle, self.idle = self.idle, False
        if highest > newest:
            part.newest = highest
            if self.alignment is not None:
                self.alignment.advanced(batch.origin.source, highest)
            if self._advance(out):
                return
        if was_idle and self.emitted != NEVER:
            out.watermark = self.emitted  # a normal watermark: downstream waits for us again

    def _part(self, origin: Origin) -> _Part:
        """The part a batch came from; a `Parted` source's parts all become known with its
        first batch, each holding the watermark until it sends or goes idle. A part the source
        no longer lists (a hybrid source's history, once it reads its live part) stops holding
        it."""
        if origin.parts is None:
            key = None
        else:
            key = origin.stream
            if (origin.source, origin.parts) not in self.listed:
                self.listed.add((origin.source, origin.parts))
                listed = {f"{origin.source}/{name}" for name in origin.parts}
                prefix = f"{origin.source}/"
                for gone in [k for k in self.parts if k and k.startswith(prefix)]:
                    if gone not in listed:
                        del self.parts[gone]
                for name in origin.parts:  # in the source's order: the snapshot keeps it
                    self._known(f"{origin.source}/{name}")
        return self._known(key)

    def _known(self, key: str | None) -> _Part:
        """The part `key`, counting from now when it is new."""
        if key not in self.parts:
            self.parts[key] = _Part(NEVER, self.clock.time_ms())
        return self.parts[key]

    def _advance(self, out: Output) -> bool:
        """Send the least largest time of the parts still counting − lateness, if it moved
        (never while one of them has sent nothing)."""
        low = None
        for part in self.parts.values():
            if part.idle:
                continue
            if part.newest == NEVER:
                return False
            if low is None or part.newest < low:
                low = part.newest
        if low is None or low - self.lateness_ms <= self.emitted:
            return False
        self.emitted = out.watermark = low - self.lateness_ms
        return True

    def _one_by_one(self, batch: Batch, out: Output, highest: int) -> int:
        """Check each record's time (strings, floats, bad values); the new largest time."""
        field, times = self.field, self._times
        for record, offset in zip(batch.records, batch.offsets):
            value = record.get(field) if times is None else times(record)
            try:
                ts = value if type(value) is int else to_epoch_ms(value)
            except EventTimeError as e:
                out.error(record if times is None else msgspec.to_builtins(record), offset, str(e))
                continue
            if ts > highest:
                highest = ts
            out.emit(record, offset)
        return highest

    def on_tick(self, now_ms: int, out: Output) -> None:
        """Parts quiet for `idle` stop counting; once all are (or, with none known, the input
        has been quiet that long), the watermark goes to the largest any part reached, as with
        one part, and downstream is told the input is idle."""
        idle_ms = self.idle_ms
        if idle_ms is None or self.idle:
            return
        quiet = [p for p in self.parts.values() if not p.idle and now_ms - p.last_ms >= idle_ms]
        for part in quiet:
            part.idle = True
        if all(p.idle for p in self.parts.values()) and (
            self.parts or now_ms - self.started_ms >= idle_ms
        ):
            top = max((p.newest for p in self.parts.values()), default=NEVER)
            if top != NEVER and top - self.lateness_ms > self.emitted:
                self.emitted = out.watermark = top - self.lateness_ms
            self.idle = out.idle = True
        elif quiet:
            self._advance(out)

    def held_since(self, checkpoint_id: int) -> int | None:
        """Times seen, not records: no output comes out of this state (`lineage.py`)."""
        return None

    def resume_held(self, checkpoint_id: int | None) -> None:
        pass

    def snapshot(self) -> EventTimeState:
        parts = [(key, p.newest, p.idle) for key, p in self.parts.items()]
        return EventTimeState(self.emitted, parts)

    def restore(self, raw: Any) -> None:
        state = read(raw, EventTimeState)
        now = self.clock.time_ms()
        self.emitted = state.emitted
        self.parts = {key: _Part(newest, now, idle) for key, newest, idle in state.parts}
