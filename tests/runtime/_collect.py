"""A sink that keeps what it is given, for tests that replace a pipeline's sink through
`execute(..., sinks={name: CollectSink()})` and then look at the records and batches."""

from __future__ import annotations


class CollectSink:
    def __init__(self) -> None:
        self.batches: list[list[dict]] = []
        self.opened = self.closed = False

    @property
    def records(self) -> list[dict]:
        return [r for batch in self.batches for r in batch]

    async def open(self) -> None:
        self.opened = True

    async def write(self, records: list[dict]) -> None:
        self.batches.append(list(records))

    async def aclose(self) -> None:
        self.closed = True
