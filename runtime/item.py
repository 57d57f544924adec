"""What flows on a channel: data batches and the control items that travel in-band with them.

Control items (`Watermark`, `Barrier`, `End`) are ordered with the data, so no side channel can
race them: an operator that sees `End` knows every batch of that input came before it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Origin:
    """Where the records of a batch were read: the source's name and, for files, the file;
    `part` names one of several upstreams a source merges (a shuffle's producing worker)."""

    source: str
    file: str | None = None
    part: str | None = None

    @property
    def stream(self) -> str:
        """Records of one stream arrive in their own order: lateness is judged per stream."""
        return self.source if self.part is None else f"{self.source}/{self.part}"


@dataclass(frozen=True, slots=True)
class Batch:
    """Records (dicts, never mutated once sent) with the source offset of each, index for index.

    Offsets travel with records so that a record failing deep in the graph is still reported
    with the offset it was read at.
    """

    records: list[dict]
    offsets: list[int]
    origin: Origin

    def __len__(self) -> int:
        return len(self.records)


@dataclass(frozen=True, slots=True)
class Watermark:
    """No record with an event time below `ts_ms` will follow on this input. An `idle` one
    says the input has had no data for a while: stop waiting for its watermark until it
    sends a normal one again."""

    ts_ms: int
    idle: bool = False


@dataclass(frozen=True, slots=True)
class Barrier:
    """Checkpoint `checkpoint_id` covers everything before this item."""

    checkpoint_id: int


@dataclass(frozen=True, slots=True)
class End:
    """The input is exhausted; nothing follows."""


@dataclass(frozen=True, slots=True)
class Tick:
    """The clock moved: sent by a node's own ticker into its channel (processing time)."""


END = End()
TICK = Tick()

Item = Batch | Watermark | Barrier | End | Tick
