"""What flows on a channel: data batches and the control items that travel in-band with them.

Control items (`Watermark`, `Barrier`, `End`) are ordered with the data, so no side channel can
race them: an operator that sees `End` knows every batch of that input came before it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import msgspec


class Origin(msgspec.Struct, frozen=True):
    """Where the records of a batch were read: the source's name and, for files, the file;
    `part` names one of several upstreams a source merges (a Kafka partition, a shuffle's
    producing worker); `parts` are all of them, from a `Parted` source (`event_time` waits for
    each)."""

    source: str
    file: str | None = None
    part: str | None = None
    parts: tuple[str, ...] | None = None

    @property
    def stream(self) -> str:
        """Records of one stream arrive in their own order: lateness is judged per stream."""
        return self.source if self.part is None else f"{self.source}/{self.part}"


class LazyOffsets(Sequence[Any]):
    """Offsets worked out on first reading: most batches pass through a run without anyone
    reading them. Reads like the list it stands for, and compares equal to it."""

    __slots__ = ("_offsets",)

    def __init__(self) -> None:
        self._offsets: list | None = None

    def _compute(self) -> list:
        raise NotImplementedError

    def _all(self) -> list:
        if self._offsets is None:
            self._offsets = self._compute()
        return self._offsets

    def __getitem__(self, index):
        return self._all()[index]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def __repr__(self) -> str:
        return repr(self._all())


class Picked(LazyOffsets):
    """The offsets of the records a stage kept: `offsets[i]` for each kept index `i`."""

    __slots__ = ("_base", "_indexes")

    def __init__(self, base: Sequence[Any], indexes: list[int]) -> None:
        super().__init__()
        self._base, self._indexes = base, indexes

    def __len__(self) -> int:
        return len(self._indexes)

    def _compute(self) -> list:
        base = self._base if isinstance(self._base, list) else list(self._base)
        return [base[i] for i in self._indexes]


class Refiltered(LazyOffsets):
    """The offsets of the records of `records` for which `kept(record)` holds, the test a
    stage applied (a pure one: testing again gives the same answer)."""

    __slots__ = ("_base", "_kept", "_records")

    def __init__(self, base: Sequence[Any], records: list, kept: Callable[[Any], bool]) -> None:
        super().__init__()
        self._base, self._records, self._kept = base, records, kept

    def _compute(self) -> list:
        base, kept = self._base, self._kept
        return [base[i] for i, record in enumerate(self._records) if kept(record)]


def picked(offsets: Sequence[Any], kept: list[int]) -> Sequence[Any]:
    """The offsets of the records kept from a batch (`kept`: their indexes, rising), read
    only when needed; the offsets themselves when every record was kept."""
    return offsets if len(kept) == len(offsets) else Picked(offsets, kept)


class Batch(msgspec.Struct, frozen=True):
    """Records (dicts, never mutated once sent) with the source offset of each, index for index.

    Offsets travel with records so that a record failing deep in the graph is still reported
    with the offset it was read at.
    """

    records: list[dict]
    offsets: Sequence[Any]
    """An int (a byte offset, a row) or a str (a stream id) per record; often lazy."""
    origin: Origin

    def __len__(self) -> int:
        return len(self.records)


NEVER = -(2**63)
"""Event time before any: the watermark of an input that has seen nothing yet."""
NO_MORE_EVENTS = 2**62
"""Watermarks from here up say an input ended (+infinity), not how far event time got."""
END_OF_TIME = 2**63 - 1
"""Event time after any: where the watermark of an input that ended stands while the others go
on, and the watermark that fires every window at the end of input."""


class Watermark(msgspec.Struct, frozen=True):
    """No record with an event time below `ts_ms` will follow on this input. An `idle` one
    says the input has had no data for a while: stop waiting for its watermark until it
    sends a normal one again."""

    ts_ms: int
    idle: bool = False


class Barrier(msgspec.Struct, frozen=True):
    """Checkpoint `checkpoint_id` covers everything before this item."""

    checkpoint_id: int


class End(msgspec.Struct, frozen=True):
    """The input is exhausted; nothing follows."""


class Tick(msgspec.Struct, frozen=True):
    """The clock moved: sent by a node's own ticker into its channel (processing time)."""


END = End()
TICK = Tick()

Item = Batch | Watermark | Barrier | End | Tick
