"""Source alignment: sources whose records meet downstream (a `join`, a `union`) are kept within
`max_drift` of event time of each other, as Flink's watermark alignment does.

Without it, two file sources read as fast as each can: one covering the same hours in a tenth
of the lines runs hours ahead, and the join or window they meet in must hold everything the
slower one has not reached yet — memory that grows with the input. Here a source whose newest
event time is more than `max_drift` past the least of the others pauses before its next read
until they catch up. Event times are reported by the `event_time` operators (a source knows no
time field). A member stops holding the others back when it ends, or when its event time has
not moved for `IDLE_S` (a quiet live source, or one whose records a `where` drops), so no
source waits for ever; a paused source still answers checkpoint requests (`nodetasks.py`).
"""

from __future__ import annotations

from collections.abc import Iterable

import anyio

from .clock import Clock
from .compile import PhysicalPlan
from .eventtime import EventTimeOperator
from .item import NEVER

IDLE_S = 1.0
"""How long a member's event time may stand still before the others stop waiting for it."""

RECHECK_S = 0.05
"""How long a paused source waits at most before it answers checkpoint requests again."""


class Alignment:
    """The event-time progress of the sources of one group."""

    def __init__(self, members: Iterable[str], max_drift_ms: int, clock: Clock) -> None:
        self.max_drift_ms = max_drift_ms
        self.clock = clock
        now = clock.monotonic_s()
        self.newest = dict.fromkeys(members, NEVER)
        self.moved_s = dict.fromkeys(self.newest, now)  # when each one's newest time last grew
        self.ended: set[str] = set()
        self.changed = anyio.Event()

    def advanced(self, source: str, newest_ms: int) -> None:
        """`source`'s records have reached event time `newest_ms` (an `event_time` saw them)."""
        if newest_ms > self.newest.get(source, newest_ms):
            self.newest[source] = newest_ms
            self.moved_s[source] = self.clock.monotonic_s()
            self._wake()

    def end(self, source: str) -> None:
        if source in self.newest:
            self.ended.add(source)
            self._wake()

    def ahead(self, source: str) -> bool:
        """Whether `source` should wait: past the least of the others still counting by more
        than the drift."""
        mine = self.newest.get(source)
        if mine is None or mine == NEVER:
            return False
        now = self.clock.monotonic_s()
        others = [
            newest
            for name, newest in self.newest.items()
            if name != source and name not in self.ended and now - self.moved_s[name] < IDLE_S
        ]
        return bool(others) and mine - min(others) > self.max_drift_ms

    async def wait(self) -> None:
        """Until another member moves or ends, or `RECHECK_S` at most."""
        with anyio.move_on_after(RECHECK_S):
            await self.changed.wait()

    def _wake(self) -> None:
        self.changed.set()
        self.changed = anyio.Event()


def align_sources(physical: PhysicalPlan, max_drift_ms: int, clock: Clock) -> dict[str, Alignment]:
    """The group of each source that has an `event_time` downstream and meets another such
    source at some node other than a sink; each group's `event_time` operators report to it."""
    nodes = physical.nodes
    reach: dict[str, set[int]] = {}
    timed: dict[str, list[EventTimeOperator]] = {}
    for node in nodes.values():
        if node.kind != "source":
            continue
        seen, todo = set(), list(node.outputs)
        while todo:
            at = todo.pop()
            if at not in seen and nodes[at].kind != "sink":
                seen.add(at)
                todo.extend(nodes[at].outputs)
        found = [
            nodes[i].operator for i in seen if isinstance(nodes[i].operator, EventTimeOperator)
        ]
        if found:
            reach[node.name], timed[node.name] = seen, found
    groups: list[set[str]] = []
    for name, seen in reach.items():
        meeting = [g for g in groups if any(seen & reach[other] for other in g)]
        merged = {name}.union(*meeting)
        groups = [g for g in groups if g not in meeting] + [merged]
    alignments: dict[str, Alignment] = {}
    for group in groups:
        if len(group) < 2:
            continue
        alignment = Alignment(sorted(group), max_drift_ms, clock)
        for name in group:
            alignments[name] = alignment
            for operator in timed[name]:
                operator.alignment = alignment
    return alignments
