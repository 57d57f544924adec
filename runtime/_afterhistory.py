"""`... then kafka(...) after ts`: each part's newest event time, and a later part's records cut
to those after the newest time of the parts before it. Only `hybrid.py` uses it."""

from __future__ import annotations

from .connector import SourceBatch
from .eventtime import EventTimeError, read_time


class AfterEarlierParts:
    def __init__(self, field: str, parts: int) -> None:
        self.field = field
        self.newest: list[int | None] = [None] * parts
        """The newest `field` each part has read (None: none yet); part of the position."""

    def threshold(self, index: int) -> int | None:
        """What part `index`'s records must come after: the newest time read before it."""
        earlier = [t for t in self.newest[:index] if t is not None]
        return max(earlier) if earlier else None

    def cut(self, batch: SourceBatch, index: int) -> int:
        """Drop from `batch` (in place) the records not after the parts before `index`, keeping
        each part's newest time; how many were dropped. A record without a readable time is
        kept: `event_time` downstream says what is wrong with it."""
        times = [_time(record, self.field) for record in batch.records]
        seen = [t for t in times if t is not None]
        if seen:
            newest = self.newest[index]
            self.newest[index] = max(seen) if newest is None else max(newest, *seen)
        threshold = self.threshold(index)
        if threshold is None:
            return 0
        kept = [i for i, t in enumerate(times) if t is None or t > threshold]
        if len(kept) == len(times):
            return 0
        offsets = list(batch.offsets)
        batch.records = [batch.records[i] for i in kept]
        batch.offsets = [offsets[i] for i in kept]
        return len(times) - len(kept)


def _time(record: dict, field: str) -> int | None:
    try:
        return read_time(record, field)
    except EventTimeError:
        return None
