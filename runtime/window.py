"""Windowed and global aggregation: the operators behind `window ... | aggregate { ... }` and
`window ... | top ...` (a `top` is an aggregate whose groups keep records, `top.py`).

Tumbling and sliding windows keep per-key accumulators in panes (the greatest common divisor of
size and step): each record updates one pane, and a window is the merge of its panes when it
fires, so a slide costs a merge of panes, never a pass over the records. A window fires when the
watermark reaches its end, in end-time order; its panes are freed then, so memory follows the
open windows, not the input. Windows are half-open and aligned to the epoch. Session windows
are in `session.py`. A window with `emit every` also emits the rows of its groups that changed,
every so often of the clock's time, before it fires.

Without `event_time` upstream, windows run on processing time: a record's time is the clock's
when it arrives, and the clock's ticks move the watermark.
"""

from __future__ import annotations

import math
from typing import Any

from .aggregate import CompiledAggregate
from .clock import Clock
from .eventtime import timed_records
from .expr import describe_error
from .item import END_OF_TIME, NEVER, Batch
from .lineage import FIRST
from .operator import Output, StatelessOperator
from .opstate import GlobalState, Group, PaneWindowState, hashable, read
from .paneloop import pane_loop


def emit_result(
    out: Output, aggregate: CompiledAggregate, key: Any, accs: list, bounds: dict, tail: dict
) -> None:
    """One group's output records, after `bounds` (the window's) and before `tail` (`final`,
    for a window that emits early). When the result fails (an item's division by zero, an int
    overflow), the group — its window and keys — becomes an error record and the run goes on,
    as with any bad record."""
    try:
        rows = aggregate.rows(key, accs)
    except Exception as e:
        keys = aggregate.keys
        values = (key,) if len(keys) == 1 else key
        out.error({**bounds, **dict(zip(keys, values))}, None, describe_error(e))
        return
    for row in rows:  # the bounds win over fields so named of a record `top` kept
        out.emit({**bounds, **row, **bounds, **tail} if bounds else {**row, **tail})


def emit_results(
    out: Output, aggregate: CompiledAggregate, groups: dict[Any, list], bounds: dict, tail: dict
) -> None:
    """Every group's output records, as `emit_result` makes them, in one pass: a window fires
    hundreds of thousands of groups in a large run. When a group's result fails, the groups
    are made again one by one, so that the failing one becomes an error record."""
    rows, rows_of = aggregate.rows, aggregate.rows_of
    try:
        if rows_of is not None:
            made = rows_of(groups, bounds["window_start"], bounds["window_end"], tail)
        else:
            made = [
                {**bounds, **row, **bounds, **tail}
                for key, accs in groups.items()
                for row in rows(key, accs)
            ]
    except Exception:
        for key, accs in groups.items():
            emit_result(out, aggregate, key, accs, bounds, tail)
        return
    out.pass_on(made, [None] * len(made))


def merge_each(target: list, accs: list) -> None:
    """Merge each of a group's accumulators into the other's (when none is generated)."""
    for mine, theirs in zip(target, accs):
        mine.merge(theirs)


class Timed:
    """What window operators and `rolling` share: reading a record's time, ticks, and the
    lateness horizon.

    A record is late when its window ended at or before the horizon: the larger of the
    watermark received and the largest event time this operator has seen from the record's
    source minus the lateness (the language's rule, docs/language.md §4.8, applied record by
    record, so where batches are cut does not matter). The largest time is kept per source so
    that, after a `union`, a source running ahead of another does not make the other's on-time
    records late: between sources, the merged watermark decides.
    """

    def __init__(
        self,
        aggregate: CompiledAggregate,
        time_field: str | None,
        lateness_ms: int,
        clock: Clock,
        tick_s: float,
    ) -> None:
        self.aggregate = aggregate
        self.time_field = time_field
        self.lateness_ms = lateness_ms
        self.clock = clock
        self.watermark = NEVER
        self.horizon = NEVER  # while a batch is processed: the horizon for its records
        self.seen: dict[str, int] = {}  # source -> its largest event time seen − lateness
        self.tick_s = None if time_field is not None else tick_s

    def times(self, batch: Batch, out: Output) -> list[tuple[dict, int | None, int]]:
        """(record, offset, event time) for the batch's records that have a valid time."""
        return timed_records(batch, self.time_field, self.clock, out)

    def on_tick(self, now_ms: int, out: Output) -> None:
        if self.time_field is None:
            self.on_watermark(now_ms, out)

    def on_end(self, out: Output) -> None:
        self.on_watermark(END_OF_TIME, out)

    def on_watermark(self, ts_ms: int, out: Output) -> None:
        raise NotImplementedError

    def begin(self, batch: Batch) -> None:
        """Start judging the records of `batch` against the horizon of its stream."""
        self.horizon = max(self.watermark, self.seen.get(batch.origin.stream, NEVER))

    def finish(self, batch: Batch) -> None:
        self.seen[batch.origin.stream] = self.horizon

    def advance(self, ts: int) -> int:
        """The horizon after seeing event time `ts`."""
        if ts - self.lateness_ms > self.horizon:
            self.horizon = ts - self.lateness_ms
        return self.horizon


class PaneWindow(Timed):
    """Tumbling (`every == size`) and sliding windows over panes.

    With `early_ms` (`emit every`), every `early_ms` of the clock's time the open windows'
    groups that received records since the last such rows are emitted, with `final` false; a
    window's rows when it fires have `final` true. Which groups changed is kept per pane."""

    def __init__(
        self,
        aggregate: CompiledAggregate,
        size_ms: int,
        every_ms: int,
        time_field: str | None,
        lateness_ms: int,
        clock: Clock,
        early_ms: int | None = None,
        time_attr: str | None = None,
    ) -> None:
        """`time_attr`: the time's attribute when records are Structs (`typedflow.py`)."""
        super().__init__(
            aggregate, time_field, lateness_ms, clock, tick_s=min(every_ms / 1000, 1.0)
        )
        self.size = size_ms
        self.every = every_ms
        self.pane = math.gcd(size_ms, every_ms)
        self.panes: dict[int, dict[Any, list]] = {}
        self.first_seen: dict[int, dict[Any, int]] = {}  # sliding: pane -> key -> arrival no.
        self.arrivals = 0
        self.fired_until = NEVER  # every window ending at or before this has fired
        self.early_ms = early_ms
        self.changed: dict[int, dict[Any, None]] = {}  # early: pane -> keys with new records
        self.tail = {} if early_ms is None else {"final": True}
        self.pane_built: dict[int, int] = {}  # pane -> the checkpoint its input was read in
        if early_ms is not None:
            self.early_slot = clock.time_ms() // early_ms
            self.tick_s = min(self.tick_s or math.inf, early_ms / 1000)
        sliding = every_ms != size_ms
        self._loop = (
            None
            if time_field is None
            else pane_loop(aggregate, time_field, sliding, early_ms is not None, time_attr)
        )

    def process(self, batch: Batch, port: int, out: Output) -> None:
        aggregate, pane, every, size = self.aggregate, self.pane, self.every, self.size
        if self._loop is not None:  # event time: the generated loop, same rules as below
            self.begin(batch)
            self.horizon, self.arrivals = self._loop(
                batch.records,
                batch.offsets,
                out,
                panes=self.panes,
                first_seen=self.first_seen,
                arrivals=self.arrivals,
                horizon=self.horizon,
                lateness=self.lateness_ms,
                every=every,
                size=size,
                pane=pane,
                new=aggregate.new_accumulators,
                changed=self.changed,
            )
            self.finish(batch)
            return
        key_of, update, new = aggregate.key_of, aggregate.update, aggregate.new_accumulators
        panes, advance = self.panes, self.advance
        first_seen = None if every == size else self.first_seen
        changed = None if self.early_ms is None else self.changed
        self.begin(batch)
        for record, offset, ts in self.times(batch, out):
            if ts - ts % every + size <= advance(ts):  # the last window holding ts has closed
                out.emit_late(record, offset)
                continue
            try:
                key = key_of(record)
                groups = panes.get(start := ts - ts % pane)
                if groups is None:
                    groups = panes[start] = {}
                accs = groups.get(key)
                if accs is None:
                    accs = groups[key] = new()
                    if first_seen is not None:  # sliding: keys of a window by first arrival
                        first_seen.setdefault(start, {})[key] = self.arrivals
                        self.arrivals += 1
                update(accs, record)
                if changed is not None:
                    changed.setdefault(start, {})[key] = None
            except Exception as e:  # a bad value for an aggregate or an unhashable key
                out.error(record, offset, str(e))
        self.finish(batch)

    def on_tick(self, now_ms: int, out: Output) -> None:
        super().on_tick(now_ms, out)
        if self.early_ms is not None and now_ms // self.early_ms > self.early_slot:
            self.early_slot = now_ms // self.early_ms
            self._emit_early(out)

    def _emit_early(self, out: Output) -> None:
        """The rows of the open windows' groups that received records since the last early
        rows, windows in end order."""
        windows: dict[int, dict[Any, None]] = {}
        for pane_start, keys in self.changed.items():
            for start in self._covering(pane_start):
                if start + self.size > self.fired_until:
                    windows.setdefault(start, {}).update(keys)
        self.changed.clear()
        early = {"final": False}
        for start in sorted(windows):
            bounds = {"window_start": start, "window_end": start + self.size}
            for key, accs in self._merged(start).items():
                if key in windows[start]:
                    emit_result(out, self.aggregate, key, accs, bounds, early)

    def _covering(self, pane_start: int) -> list[int]:
        """The starts of the windows that cover the pane starting at `pane_start`."""
        start, starts = pane_start - pane_start % self.every, []
        while start > pane_start - self.size:
            starts.append(start)
            start -= self.every
        return starts

    def on_watermark(self, ts_ms: int, out: Output) -> None:
        if ts_ms <= self.watermark:
            return
        self.watermark = ts_ms
        if not self.panes:
            self.fired_until = max(self.fired_until, ts_ms)
            return
        starts = {start for pane_start in self.panes for start in self._covering(pane_start)}
        for start in sorted(starts):
            end = start + self.size
            if self.fired_until < end <= ts_ms:
                bounds = {"window_start": start, "window_end": end}
                emit_results(
                    out, self.aggregate, self._merged(start, final=True), bounds, self.tail
                )
        self.fired_until = max(self.fired_until, min(ts_ms, END_OF_TIME))
        for pane_start in [
            p for p in self.panes if p - p % self.every + self.size <= self.fired_until
        ]:
            del self.panes[pane_start]
            self.first_seen.pop(pane_start, None)
            self.changed.pop(pane_start, None)

    def _merged(self, start: int, final: bool = False) -> dict[Any, list]:
        """The groups of the window from `start`, merged over its panes, in the order their
        keys were first seen in it. When the window fires (`final`), its panes before the next
        window's start serve no other window (those before fired already), so the first of
        them lends its accumulators rather than being copied."""
        end = start + self.size
        merged: dict[Any, list] = {}
        first: dict[Any, int] = {}
        new, merge = self.aggregate.new_accumulators, self.aggregate.merge or merge_each
        for pane_start in range(start, end, self.pane):
            groups = self.panes.get(pane_start)
            if not groups:
                continue
            if self.every == self.size:  # tumbling: the pane is the window
                merged = groups
                break
            arrivals = self.first_seen[pane_start]  # the same keys as `groups`
            if final and not merged and pane_start < start + self.every:
                merged, first = dict(groups), dict(arrivals)
                continue
            get = merged.get
            for key, accs in groups.items():
                target = get(key)
                if target is None:
                    target = merged[key] = new()
                    first[key] = arrivals[key]
                elif arrivals[key] < first[key]:
                    first[key] = arrivals[key]
                merge(target, accs)
        if first:  # keys in the order they were first seen in the window, not pane by pane
            merged = {key: merged[key] for key in sorted(merged, key=first.__getitem__)}
        return merged

    def held_since(self, checkpoint_id: int) -> int | None:
        """Each open pane holds input since the checkpoint it was first seen at (`lineage.py`):
        a pane begun since the last barrier, this one's."""
        built, panes = self.pane_built, self.panes
        for start in panes.keys() - built.keys():
            built[start] = checkpoint_id
        for start in built.keys() - panes.keys():  # fired
            del built[start]
        return min(built.values(), default=None)

    def resume_held(self, checkpoint_id: int | None) -> None:
        self.pane_built = dict.fromkeys(self.panes, checkpoint_id or FIRST)

    def snapshot(self) -> PaneWindowState:
        return PaneWindowState(
            self.watermark,
            dict(self.seen),
            self.fired_until,
            self.arrivals,
            [(start, _groups(groups)) for start, groups in self.panes.items()],
            [(start, list(firsts.items())) for start, firsts in self.first_seen.items()],
            [(start, list(keys)) for start, keys in self.changed.items()],
        )

    def restore(self, raw: Any) -> None:
        state = read(raw, PaneWindowState)
        self.watermark, self.fired_until = state.watermark, state.fired_until
        self.seen, self.arrivals = dict(state.seen), state.arrivals
        self.first_seen = {
            start: {hashable(key): n for key, n in firsts} for start, firsts in state.first_seen
        }
        self.panes = {start: _restored(self.aggregate, groups) for start, groups in state.panes}
        self.changed.clear()
        for start, keys in state.changed:
            self.changed[start] = dict.fromkeys(map(hashable, keys))


class GlobalAggregate(StatelessOperator):
    """`aggregate` with no window: per key over the whole input, emitted when the input ends.
    On an unbounded input nothing is emitted until the run stops."""

    def __init__(self, aggregate: CompiledAggregate) -> None:
        self.aggregate = aggregate
        self.groups: dict[Any, list] = {}

    def process(self, batch: Batch, port: int, out: Output) -> None:
        key_of, update, new = (
            self.aggregate.key_of,
            self.aggregate.update,
            self.aggregate.new_accumulators,
        )
        groups = self.groups
        for record, offset in zip(batch.records, batch.offsets):
            try:
                key = key_of(record)
                accs = groups.get(key)
                if accs is None:
                    accs = groups[key] = new()
                update(accs, record)
            except Exception as e:
                out.error(record, offset, str(e))

    def on_end(self, out: Output) -> None:
        for key, accs in self.groups.items():
            emit_result(out, self.aggregate, key, accs, {}, {})
        self.groups = {}

    def snapshot(self) -> GlobalState:
        return GlobalState(_groups(self.groups))

    def restore(self, raw: Any) -> None:
        self.groups = _restored(self.aggregate, read(raw, GlobalState).groups)


def _groups(groups: dict[Any, list]) -> list[Group]:
    """Each group's key and its accumulators' states, for a snapshot."""
    return [(key, [a.snapshot() for a in accs]) for key, accs in groups.items()]


def _restored(aggregate: CompiledAggregate, groups: list[Group]) -> dict[Any, list]:
    return {hashable(key): accumulators(aggregate, saved) for key, saved in groups}


def accumulators(aggregate: CompiledAggregate, saved: list[Any]) -> list:
    accs = aggregate.new_accumulators()
    for acc, value in zip(accs, saved):
        acc.restore(value)
    return accs
