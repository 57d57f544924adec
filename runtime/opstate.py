"""What the built-in stateful operators save at a checkpoint: one msgspec Struct per operator,
tagged with its format's `version`, and reading back any version a checkpoint may still hold.

A checkpoint outlives the code that wrote it, so a format is never changed in place: a new one
gets the next version, and the older ones stay readable, each upgraded to the current Struct on
restore. Version 1 is the untagged shape written before snapshots had versions (lists, or a map
without `version`); `tests/runtime/snapshots/` keeps a blob of every version of every operator.
Accumulator states and joined records are whatever the aggregate or the source made them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

Group = tuple[Any, list[Any]]  # a group's key and its accumulators' states
Buffer = list[tuple[Any, list[tuple[int, dict[str, Any]]]]]  # key -> (event time, record)...
Kept = list[tuple[Any, list[int]]]  # key -> the event times of the records kept


class Versioned(msgspec.Struct, tag_field="version"):
    """A snapshot format: encoded as a map whose `version` comes first."""


class EventTimeV2(msgspec.Struct):
    max_seen: int
    emitted: int


class EventTimeState(Versioned, tag=3):
    emitted: int
    parts: list[tuple[str | None, int, bool]]
    """Each part (None: the sources without parts together): its largest time seen, idle."""


def _event_time_v2(old: EventTimeV2) -> EventTimeState:
    """An older snapshot kept one largest time, always `emitted` + lateness once anything was
    seen: `emitted` holds it. It becomes no part, since a part made of it would hold back the
    partitions of a Kafka source, which those versions did not tell apart."""
    return EventTimeState(old.emitted, [])


class DedupeState(Versioned, tag=2):
    kept: Kept


class JoinV2(msgspec.Struct):
    left: Buffer
    right: Buffer


class JoinState(Versioned, tag=3):
    left: list[tuple[Any, int, dict[str, Any], bool]]
    """The left side's records in arrival order: (key, event time, record, matched yet)."""
    right: list[tuple[Any, int, dict[str, Any]]]
    """The right side's records in arrival order: (key, event time, record)."""


def _join_v2(old: JoinV2) -> JoinState:
    """Older snapshots kept each side's records grouped by key (each key's in arrival order),
    and were of inner joins only, which never write a left record alone: all count as
    matched."""
    return JoinState(
        [(key, ts, record, True) for key, entries in old.left for ts, record in entries],
        [(key, ts, record) for key, entries in old.right for ts, record in entries],
    )


class GlobalState(Versioned, tag=2):
    groups: list[Group]


class PaneWindowV1(msgspec.Struct):
    watermark: int
    seen: dict[str, int]
    fired_until: int
    arrivals: int
    panes: list[tuple[int, list[Group]]]  # pane start -> its groups
    first_seen: list[tuple[int, list[tuple[Any, int]]]]  # pane start -> key -> arrival no.


class PaneWindowState(Versioned, tag=3):
    watermark: int
    seen: dict[str, int]
    fired_until: int
    arrivals: int
    panes: list[tuple[int, list[Group]]]
    first_seen: list[tuple[int, list[tuple[Any, int]]]]
    changed: list[tuple[int, list[Any]]]
    """`emit every`: pane start -> the keys that received records since the last early rows"""


def _pane_window_v2(old: PaneWindowV1) -> PaneWindowState:
    """Versions 1 and 2 (the same fields) knew no early rows: nothing has changed since."""
    return PaneWindowState(**msgspec.structs.asdict(old), changed=[])


class SessionWindowV1(msgspec.Struct):
    watermark: int
    seen: dict[str, int]
    arrivals: int
    sessions: list[tuple[Any, list[tuple[int, int, int, list[Any]]]]]


class SessionWindowState(Versioned, tag=2):
    watermark: int
    seen: dict[str, int]
    arrivals: int
    sessions: list[tuple[Any, list[tuple[int, int, int, list[Any]]]]]
    """key -> its sessions, by start: (start, end, first arrival no., accumulator states)"""


class RollingState(Versioned, tag=1):
    """A format new since versions began: its first version is tagged 1."""

    watermark: int
    seen: dict[str, int]
    arrivals: int
    series: list[tuple[Any, list[tuple[int, int, dict[str, Any], Any]]]]
    """key -> its records by (event time, arrival no.): (time, arrival no., record, offset)"""


S = TypeVar("S", bound=Versioned)


def _same_fields(current: type[Versioned]) -> Callable[[msgspec.Struct], Any]:
    """The upgrade from an older format that differs from `current` only by its tag."""
    return lambda old: current(**msgspec.structs.asdict(old))


OLDER: dict[type[Versioned], dict[int, tuple[Any, Callable[[Any], Any]]]] = {
    EventTimeState: {
        1: (tuple[int, int], lambda v: _event_time_v2(EventTimeV2(*v))),
        2: (EventTimeV2, _event_time_v2),
    },
    DedupeState: {1: (Kept, DedupeState)},
    JoinState: {
        1: (tuple[Buffer, Buffer], lambda sides: _join_v2(JoinV2(*sides))),
        2: (JoinV2, _join_v2),
    },
    GlobalState: {1: (list[Group], GlobalState)},
    PaneWindowState: {1: (PaneWindowV1, _pane_window_v2), 2: (PaneWindowV1, _pane_window_v2)},
    SessionWindowState: {1: (SessionWindowV1, _same_fields(SessionWindowState))},
    RollingState: {},
}
"""Each format's older versions: the type to read one as, and its upgrade to the current."""


class SnapshotVersionError(ValueError):
    """A snapshot of a version this code does not know (written by a newer rillet)."""


def read(raw: Any, current: type[S]) -> S:
    """`raw` (a decoded snapshot, or a snapshot as taken) as the `current` Struct."""
    if isinstance(raw, msgspec.Struct):
        version = raw.__struct_config__.tag
    else:
        version = raw.get("version", 1) if isinstance(raw, dict) else 1
    if version == current.__struct_config__.tag:
        return msgspec.convert(raw, current)
    if version not in OLDER[current]:
        raise SnapshotVersionError(f"no version {version!r} of {current.__name__} is known")
    kind, upgrade = OLDER[current][version]
    return upgrade(msgspec.convert(raw, kind))


def hashable(key: Any) -> Any:
    """A key as read back from a snapshot: msgpack gives back a tuple key as a list."""
    return tuple(hashable(k) for k in key) if isinstance(key, list) else key
