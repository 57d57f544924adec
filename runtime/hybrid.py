"""A hybrid source (`file("history/*.jsonl") then kafka(...)`): one source made of parts, read
one after the other, each to its end; only the last part's end is the source's end.

The parts stay ordinary connectors, each built when it is reached (a broker part connects only
once the history before it has been read) and checked against what it declares. The hybrid
declares the capabilities of any source and passes each call to the part it concerns:

- `position()` is `{"part": i, "at": <part i's position>, "read": <records read from it>,
  "newest": <each part's newest event time, for `after`; else None>}`: one position covers
  every part, so a run stopped in the history resumes in the history and one stopped after the
  switch resumes in the live part (`at` None: from the part's own start: a broker's consumer
  group, or its `from=`).
- `... then kafka(...) after ts` drops a later part's records not after the newest `ts` read
  before it (`_afterhistory.py`).
- `commit(position)` goes to the part that owns the position: a broker acknowledges only its
  own offsets. A committing part that has ended stays open until a checkpoint past it is
  saved, which then commits its end and closes it.
- A part's end is not the source's: the run sees `None` from `read_batch` only at the last
  part's end, so no end-of-input (and no watermark of +infinity) follows a history, and event
  time goes on across the switch.
- When a part is `Parted` (Kafka partitions), the hybrid is too: a part without parts of its
  own names itself (`part1`), and `event_time` stops waiting for a part no longer listed.

Read next: `connectors.py`, which builds it, and `dsl/hybridcheck.py`, which checks the parts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from ._afterhistory import AfterEarlierParts
from .capability import (
    Committing,
    KnowsUnread,
    Parted,
    Positioned,
    ReportsProgress,
    Seekable,
    check,
)
from .connector import Source, SourceBatch

log = logging.getLogger(__name__)

Build = Callable[[int], Source]
"""Builds part `i` (not yet opened)."""


class HybridSource(Seekable, Committing, KnowsUnread, ReportsProgress):
    def __init__(
        self, name: str, labels: Sequence[str], build: Build, after: str | None = None
    ) -> None:
        self.name = name
        self.labels = tuple(labels)
        """Each part as the pipeline file calls it (`kafka(...)`), for the log and the view."""
        self.build = build
        self.index = 0
        """The part being read (0-based)."""
        self.current: Source | None = None
        self.start_at: Any = None  # where the part is to start once opened (None: its start)
        self.read = 0  # records read from the current part, over every run
        self.counted_all = True  # False: the part was begun before the pipeline had a `then`
        self.ended: dict[int, tuple[Source, Any]] = {}  # committing parts that ended: their end
        self.retired: Source | None = None  # the part `open` reached, when a resume is elsewhere
        self.after = AfterEarlierParts(after, len(self.labels)) if after is not None else None
        self.dropped = 0  # records of the current part not after the earlier ones (`after`)

    # -- reading ---------------------------------------------------------------------------

    async def open(self) -> None:
        await self._reach()

    async def read_batch(self) -> SourceBatch | None:
        while True:
            current = await self._reach()
            batch = await current.read_batch()
            if batch is not None:
                self.read += len(batch.records) + len(batch.bad)
                if self.after is not None:
                    self.dropped += self.after.cut(batch, self.index)
                return self._labelled(batch)
            if self.index == len(self.labels) - 1:
                return None
            await self._switch(current)
            return SourceBatch([], [])  # a turn for the run to place a barrier in the next part

    async def _reach(self) -> Source:
        """The current part, built, opened and moved to where it starts when needed."""
        if self.retired is not None:
            retired, self.retired = self.retired, None
            await retired.aclose()
        if self.current is None:
            part = self.build(self.index)
            check(part, f"{self.name} (part {self.index + 1})")
            await part.open()
            if self.start_at is not None and isinstance(part, Seekable):
                part.seek(self.start_at)
            self.current = part
        return self.current

    async def _switch(self, current: Source) -> None:
        since = "" if self.counted_all else " since the pipeline had its `then`"
        dropped = f", {self.dropped} dropped by `after`" if self.dropped else ""
        log.info(
            "source %s: %s read to its end (%d records%s%s); now reading %s%s",
            self.name,
            self.labels[self.index],
            self.read,
            since,
            dropped,
            self.labels[self.index + 1],
            self._from(self.index + 1),
            extra={"fields": {"source": self.name, "part": self.index + 2}},
        )
        if isinstance(current, Committing):
            self.ended[self.index] = (current, _position_of(current))
        else:
            await current.aclose()
        self.index += 1
        self.current, self.start_at, self.read, self.dropped = None, None, 0, 0
        self.counted_all = True

    def _from(self, index: int) -> str:
        """What `after` keeps of part `index`, for the log."""
        threshold = self.after.threshold(index) if self.after is not None else None
        if self.after is None or threshold is None:
            return ""
        return f", from `{self.after.field}` after {threshold}"

    def reading(self) -> str:
        """The part being read, as the live view shows it."""
        return f"part {self.index + 1} of {len(self.labels)}: {self.labels[self.index]}"

    def _labelled(self, batch: SourceBatch) -> SourceBatch:
        """A batch as the run sees it: see `PartedHybridSource`."""
        return batch

    # -- positions -------------------------------------------------------------------------

    def position(self) -> dict[str, Any]:
        current = self.current
        at = _position_of(current) if current is not None else self.start_at
        newest = list(self.after.newest) if self.after is not None else None
        return {"part": self.index, "at": at, "read": self.read, "newest": newest}

    def seek(self, position: Any) -> None:
        """Resume at a `position()` of an earlier run: in the part it names. The part is
        opened (or, if it is not the one `open` reached, replaced) at the next read. Any other
        position is the first part's, saved before the pipeline had a `then`: a batch pipeline
        given a live part resumes where its history stopped."""
        if isinstance(position, dict) and position.keys() == {"part", "at", "read", "newest"}:
            index, at, read = int(position["part"]), position["at"], int(position["read"])
            newest = position["newest"]
        else:
            index, at, read, newest = 0, position, 0, None
            self.counted_all = False
        if not 0 <= index < len(self.labels):
            return  # the pipeline lost parts since: what the position named is gone
        if self.after is not None and newest is not None and len(newest) == len(self.labels):
            self.after.newest = list(newest)
        if index != self.index:
            self.retired, self.current = self.current, None
        elif isinstance(self.current, Seekable) and at is not None:
            self.current.seek(at)
        self.index, self.start_at, self.read = index, at, read

    async def commit(self, covered: Any) -> None:
        index, at = int(covered["part"]), covered["at"]
        for earlier in [i for i in self.ended if i < index]:
            part, end = self.ended.pop(earlier)
            if end is not None:
                await part.commit(end)
            await part.aclose()
        owner: Source | None
        if index in self.ended:
            owner = self.ended[index][0]
        elif index == self.index:
            owner = self.current
        else:
            return  # a part that ended without committing anything (a file)
        if at is not None and isinstance(owner, Committing):
            await owner.commit(at)

    async def unread(self) -> bool:
        if self.index < len(self.labels) - 1:
            return True
        current = await self._reach()
        return not isinstance(current, KnowsUnread) or await current.unread()

    def progress(self) -> tuple[int, int] | None:
        current = self.current
        return current.progress() if isinstance(current, ReportsProgress) else None

    async def aclose(self) -> None:
        parts = [p for p, _ in self.ended.values()]
        parts += [p for p in (self.current, self.retired) if p is not None]
        self.ended.clear()
        self.current = self.retired = None
        for part in parts:
            await part.aclose()


def _position_of(part: Source) -> Any:
    return part.position() if isinstance(part, Positioned) else None


class PartedHybridSource(HybridSource, Parted):
    """A hybrid with a `Parted` part: each batch names its part, and the parts listed are the
    current part's, so `event_time` waits for each partition of a live part and no longer for
    the history once it has ended."""

    def parts(self) -> tuple[str, ...]:
        current = self.current
        if isinstance(current, Parted):
            return current.parts()
        return (self._own_part(),)

    def _labelled(self, batch: SourceBatch) -> SourceBatch:
        if not isinstance(self.current, Parted):
            batch.part = self._own_part()
        return batch

    def _own_part(self) -> str:
        return f"part{self.index + 1}"


def hybrid_source(
    name: str, labels: Sequence[str], classes: Sequence[type], build: Build, after: str | None
) -> HybridSource:
    """The hybrid of parts whose connector classes are `classes`: `Parted` when one is."""
    parted = any(isinstance(c, type) and issubclass(c, Parted) for c in classes)
    return (PartedHybridSource if parted else HybridSource)(name, labels, build, after)
