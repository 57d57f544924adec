"""Session windows: the operator behind `window session gap DUR | aggregate { ... }` (and
`| top ...`).

Each key's records form sessions of activity: a record at `t` opens `[t, t + gap)`, and the
key's sessions that overlap merge, so a record arriving out of order can bridge two. A session
fires when the watermark reaches its end, sessions ending together in the order their first
records arrived; its accumulators are freed then. Lateness and ticks are the windows' (`Timed`).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from .aggregate import CompiledAggregate
from .clock import Clock
from .item import Batch
from .operator import Output
from .opstate import SessionWindowState, hashable, read
from .sessionloop import session_loop
from .window import Timed, accumulators, emit_result, merge_each

_end_then_first = itemgetter(0, 1)
"""Sessions ending together fire in the order their first records arrived."""


class SessionWindow(Timed):
    """Per-key sessions: a record starts `[ts, ts + gap)`; overlapping sessions merge."""

    def __init__(
        self,
        aggregate: CompiledAggregate,
        gap_ms: int,
        time_field: str | None,
        lateness_ms: int,
        clock: Clock,
    ) -> None:
        super().__init__(aggregate, time_field, lateness_ms, clock, tick_s=min(gap_ms / 1000, 1.0))
        self.gap = gap_ms
        # key -> [[start, end, accs, first], ...] by start; `first` numbers the session's first
        # record in arrival order, so that sessions ending together come out first-seen first
        self.sessions: dict[Any, list[list]] = {}
        self.arrivals = 0
        self.ends: list[tuple[int, int, Any]] = []  # heap of (end, first, key)
        self._loop = session_loop(aggregate, time_field)

    def process(self, batch: Batch, port: int, out: Output) -> None:
        """The generated loop (`sessionloop.py`): a record inside its key's newest session
        updates it in place, one after it opens a session; the rest take `_place`. A session
        whose end grows keeps its old heap entry: `on_watermark` pushes it again when that
        entry comes due, so the heap holds about one entry per session."""
        self.begin(batch)
        now = self.clock.time_ms() if self.time_field is None else 0
        self.horizon, self.arrivals = self._loop(
            batch.records,
            batch.offsets,
            out,
            self,
            now=now,
            table=self.sessions,
            ends=self.ends,
            arrivals=self.arrivals,
            horizon=self.horizon,
            lateness=self.lateness_ms,
            gap=self.gap,
            new=self.aggregate.new_accumulators,
        )
        self.finish(batch)

    def _place(
        self,
        record: dict,
        offsets: Sequence[Any],
        index: int,
        key: Any,
        ts: int,
        sessions: list,
        out: Output,
    ) -> None:
        """Open `[ts, ts + gap)` for the record, merged with the key's sessions it overlaps; or
        send it to the late records when even the merged session has closed."""
        aggregate = self.aggregate
        start, end = ts, ts + self.gap
        overlapping = [s for s in sessions if s[0] < end and start < s[1]]
        for s in overlapping:
            start, end = min(start, s[0]), max(end, s[1])
        if end <= self.advance(ts):
            out.emit_late(record, offsets[index])
            return
        own = aggregate.new_accumulators()
        aggregate.update(own, record)  # first, so that a bad value changes no session
        # the merged sessions in start order, then the record: `first`, `last` and
        # `collect` see a session's values in arrival order
        accs = overlapping[0][2] if overlapping else own
        merge = aggregate.merge or merge_each
        for s in overlapping[1:]:
            merge(accs, s[2])
        if overlapping:
            merge(accs, own)
        first = min((s[3] for s in overlapping), default=self.arrivals)
        self.arrivals += 1
        for s in overlapping:
            sessions.remove(s)
        sessions.append([start, end, accs, first])
        sessions.sort(key=lambda s: s[0])
        self.sessions[key] = sessions
        heapq.heappush(self.ends, (end, first, key))

    def on_watermark(self, ts_ms: int, out: Output) -> None:
        if ts_ms <= self.watermark:
            return
        self.watermark = ts_ms
        fired: list[tuple[int, int, int, Any, list]] = []
        ends, table = self.ends, self.sessions
        heappop, heappush = heapq.heappop, heapq.heappush
        while ends and ends[0][0] <= ts_ms:
            _, first, key = heappop(ends)
            sessions = table.get(key)
            if sessions is None:
                continue  # fired already
            session = sessions[0]  # mostly a key's only session
            if session[3] != first:
                found = [s for s in sessions if s[3] == first]
                if not found:
                    continue  # fired already, or merged into another (with its own entry)
                session = found[0]
            end = session[1]
            if end > ts_ms:  # it grew since this entry was pushed
                heappush(ends, (end, first, key))
                continue
            fired.append((end, first, session[0], key, session[2]))
            if len(sessions) == 1:
                del table[key]
            else:
                sessions.remove(session)
        fired.sort(key=_end_then_first)
        aggregate = self.aggregate
        for end, _, start, key, accs in fired:
            emit_result(out, aggregate, key, accs, {"window_start": start, "window_end": end}, {})

    def snapshot(self) -> SessionWindowState:
        return SessionWindowState(
            self.watermark,
            dict(self.seen),
            self.arrivals,
            [
                (key, [(s[0], s[1], s[3], [a.snapshot() for a in s[2]]) for s in sessions])
                for key, sessions in self.sessions.items()
            ],
        )

    def restore(self, raw: Any) -> None:
        state = read(raw, SessionWindowState)
        self.watermark, self.seen = state.watermark, dict(state.seen)
        self.arrivals = state.arrivals
        self.sessions, self.ends = {}, []
        for saved_key, sessions in state.sessions:
            key = hashable(saved_key)
            self.sessions[key] = []
            for start, end, first, saved in sessions:
                self.sessions[key].append([start, end, accumulators(self.aggregate, saved), first])
                heapq.heappush(self.ends, (end, first, key))
