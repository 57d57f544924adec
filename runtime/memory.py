"""In-memory connectors: a source of given records and a sink that keeps what it receives.

They stand in for real connectors where a pipeline's `test` blocks run (`rillet test`), and
wherever Python code drives a plan directly.
"""

from __future__ import annotations

import msgspec

from .capability import Seekable
from .connector import BadRecord, SourceBatch
from .schema import Schema


class MemorySource(Seekable):
    """Records given up front, read `batch_size` at a time; the offset of a record is its
    index. A schema validates them as it would a file's."""

    def __init__(
        self, records: list[dict], schema: Schema | None = None, batch_size: int = 1000
    ) -> None:
        self.records = records
        self.schema = schema
        self.batch_size = batch_size
        self.position_index = 0

    async def open(self) -> None:
        pass

    def position(self) -> int:
        return self.position_index

    def seek(self, position: int) -> None:
        self.position_index = position

    async def read_batch(self) -> SourceBatch | None:
        if self.position_index >= len(self.records):
            return None
        start = self.position_index
        stop = min(start + self.batch_size, len(self.records))
        self.position_index = stop
        records: list[dict] = []
        offsets: list[int] = []
        bad: list[BadRecord] = []
        for offset in range(start, stop):
            record = self.records[offset]
            if self.schema is not None:
                try:
                    record = self.schema.validate(record)
                except msgspec.ValidationError as e:
                    bad.append(BadRecord(self.schema.describe(e), offset, record))
                    continue
            records.append(record)
            offsets.append(offset)
        return SourceBatch(records, offsets, bad=bad)

    async def aclose(self) -> None:
        pass


class MemorySink:
    """Keeps every record written to it, in order."""

    def __init__(self) -> None:
        self.records: list[dict] = []

    async def open(self) -> None:
        pass

    async def write(self, records: list[dict]) -> None:
        self.records.extend(records)

    async def aclose(self) -> None:
        pass
