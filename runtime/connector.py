"""What a source, sink or table connector implements, and what the runtime hands it.

Lifecycle, in order. Sources: `open()`; `seek(position)` when a run resumes from a checkpoint;
`read_batch()` any number of times, with `position()` between calls at checkpoint barriers and
`commit(position)` once the checkpoint holding that position is saved; `aclose()`. Sinks:
`restore(committed)` when a run resumes (before `open`, so the sink knows not to start over);
`open()`; `write()` any number of times, with `precommit()` at checkpoint barriers and
`commit(committed)` once the checkpoint holding that `precommit()` result is saved; `aclose()`.
`aclose()` comes once, also after a failure, and nothing after it.

`commit` is what a broker source needs to acknowledge upstream only what a saved checkpoint
covers, and what a database sink needs to make a checkpoint's rows visible exactly once. It comes
in checkpoint order but may skip one when a newer one is already saved, so it covers everything
up to its argument; it never overlaps another call on the same connector. A run's last checkpoint
is committed before `aclose()`; a run without checkpoints calls `precommit()` and `commit()` (or,
for a source, `commit(position())`) once at its end.

Everything beyond `open`, `read_batch`/`write` and `aclose` is a capability the connector
declares by base class (`capability.py`): `position`/`seek` (`Seekable`), `precommit`/`restore`
(`Transactional`), `commit` (`Committing`), a sink's `watermark(ts_ms)` and `end_of_input()`
(`HearsEventTime`, for sinks that pass event time on, such as the shuffle between workers). A
connector without them is not resumed (a source starts over, a sink appends again:
at-least-once); a source passes event time on in `SourceBatch.watermark`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import msgspec
from msgspec import field

from .clock import Clock, SystemClock
from .plan import SchemaSpec
from .schema import Schema


class ConnectorError(Exception):
    """A source or sink cannot do its job (missing file, unwritable folder): stops the run."""


class BadRecord(msgspec.Struct, frozen=True):
    """Input a source could not turn into a record: goes to the error sink."""

    reason: str
    offset: int | str | None  # a byte offset, a row number, a stream id
    raw: Any


class SourceBatch(msgspec.Struct):
    records: list[dict]
    offsets: Sequence[Any]  # one per record, as `offset` above; may be lazy (`item.py`)
    file: str | None = None
    bad: list[BadRecord] = field(default_factory=list)
    watermark: int | None = None
    """Event time (ms) the source vouches no later record will be older than, if it knows."""
    part: str | None = None
    """Which of several upstreams the records came from, for a source that merges some (a Kafka
    partition, the shuffle's producing worker): windows judge each part's lateness on their own,
    and for a `Parted` source `event_time` keeps a watermark per part."""
    idle: bool = False
    """Every upstream the source merges is idle (the shuffle: every worker still sending went
    idle): until a watermark comes again, the source holds none back downstream."""


class SourceContext(msgspec.Struct, frozen=True):
    name: str
    schema: Schema | None
    clock: Clock
    base_dir: Path
    batch_size: int
    batch_timeout_s: float
    worker: int = 0
    """This worker's index among `workers` (`rillet run --workers`): a consumer name, say."""
    workers: int = 1


class SinkContext(msgspec.Struct, frozen=True):
    name: str
    base_dir: Path
    worker: int = 0
    workers: int = 1
    pipeline: str = ""
    """The pipeline file's name without `.rill`: with the sink's name, what tells this sink from
    another writing the same table (`sqltable.py`)."""
    clock: Clock = field(default_factory=SystemClock)
    """The run's clock: what a sink waits on (a retry's backoff) and reads time from."""
    schema: SchemaSpec | None = None
    """The type of the records written into the sink, for a sink declared `typed` when the
    checker knows it for every flow into it (a table format's column types)."""


class Source(Protocol):
    async def open(self) -> None: ...

    async def read_batch(self) -> SourceBatch | None:
        """Up to `batch_size` records. A source that waits for its input hands on what it has
        as soon as nothing more is ready (adaptive micro-batches: small under light load, full
        under heavy load), and a partial batch at the latest after `batch_timeout_s` (none,
        when nothing came in that time: the runtime needs the turn to place barriers); `None`
        when the input is exhausted (never, for a followed input)."""

    def position(self) -> Any:
        """Where the next record would be read from (msgspec-encodable)."""

    def seek(self, position: Any) -> None:
        """Go back to a `position()` taken by an earlier run."""

    async def commit(self, position: Any) -> None:
        """A saved checkpoint holds `position`: acknowledge upstream everything before it."""

    async def aclose(self) -> None: ...


class Sink(Protocol):
    async def open(self) -> None: ...

    async def write(self, records: list[dict]) -> None: ...

    async def precommit(self) -> Any:
        """Make everything written so far durable; return what `restore` needs to come back to
        exactly this point (msgspec-encodable)."""

    def restore(self, committed: Any) -> None:
        """Resume at a `precommit()` result: drop anything written after it."""

    async def commit(self, committed: Any) -> None:
        """A saved checkpoint holds `committed`: make everything up to it final."""

    async def aclose(self) -> None:
        """Flush and release; after it the output is complete."""
