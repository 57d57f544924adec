"""What a source, sink or table connector implements, and what the runtime hands it.

Lifecycle, in order: `open()` once; then `read_batch()` (sources) or `write()` (sinks) any number
of times; `aclose()` once, also after a failure, never followed by another call. Checkpoint hooks
(seek, pre-commit, commit) arrive with the checkpoint issue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .clock import Clock
from .schema import Schema


class ConnectorError(Exception):
    """A source or sink cannot do its job (missing file, unwritable folder): stops the run."""


@dataclass(frozen=True)
class BadRecord:
    """Input a source could not turn into a record: goes to the error sink."""

    reason: str
    offset: int | None
    raw: Any


@dataclass
class SourceBatch:
    records: list[dict]
    offsets: list[int]
    file: str | None = None
    bad: list[BadRecord] = field(default_factory=list)


@dataclass(frozen=True)
class SourceContext:
    name: str
    schema: Schema | None
    clock: Clock
    base_dir: Path
    batch_size: int
    batch_timeout_s: float


@dataclass(frozen=True)
class SinkContext:
    name: str
    base_dir: Path


class Source(Protocol):
    async def open(self) -> None: ...

    async def read_batch(self) -> SourceBatch | None:
        """Up to `batch_size` records, fewer once `batch_timeout_s` has passed with some read;
        `None` when the input is exhausted (never, for a followed input)."""

    async def aclose(self) -> None: ...


class Sink(Protocol):
    async def open(self) -> None: ...

    async def write(self, records: list[dict]) -> None: ...

    async def aclose(self) -> None:
        """Flush and release; after it the output is complete."""
