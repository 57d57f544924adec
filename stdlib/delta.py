"""The `delta` sink: a Delta Lake table, one table version per checkpoint, exactly-once.

The call order is runtime/connector.py's; the table's side is deltalog.py:

- `write()` buffers records; past `BUFFER_ROWS` they are staged as a Parquet file beside the
  table (`staging.py`), never in it.
- `precommit()` stages the rest, fsyncs, and returns `{"epoch": n}`: the sink's n-th checkpoint.
- `commit({"epoch": n})`, once the checkpoint is saved, commits each staged epoch up to n as one
  table version (an append, or with `key` a merge), recording `(app id, epoch)` as a Delta
  application transaction in that same commit. An epoch the table's log already records for
  this writer is not committed again: a crash between the commit and the staging's cleanup
  costs nothing twice.
- `restore({"epoch": n})` then `open()` (a resumed run): staged epochs up to n that a crash kept
  from being committed are committed now; later ones were never part of a saved checkpoint and
  are deleted; epochs go on after n. A fresh run deletes what its sink left staged and goes on
  after the newest epoch the table records for it (the table's rows stay, as in a database).

The writer's application id is `rillet:<pipeline>/<sink>/<worker>` (`sink_identity`): two
sinks or pipelines writing one table keep apart.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
import msgspec

from rillet.runtime.plugin import Committing, ConnectorError, Plugin, SinkContext, Transactional

from .extras import DELTA
from .filepaths import display_path
from .sqltable import sink_identity
from .staging import EpochStaging, check_path, fsync
from .tablekeys import Key, check_fields, key_fields

plugin = Plugin("std")
log = logging.getLogger(__name__)

BUFFER_ROWS = 100_000
"""Records a sink holds before staging them as a file."""


class DeltaSinkConfig(msgspec.Struct, forbid_unknown_fields=True):
    path: str
    """The table's folder, relative to the pipeline file's."""
    key: Key = None
    """The field, or list of fields, a record replaces the row of (merge); none appends."""
    partition_by: list[str] = []
    """Fields whose values partition the table (its folders), outermost first."""

    def __post_init__(self) -> None:
        check_fields("key", self.key)
        check_fields("partition_by", self.partition_by, empty_ok=True)


@plugin.sink(
    "delta",
    config=DeltaSinkConfig,
    delivery="exactly-once",
    exclusive="path",
    needs=DELTA,
    typed=True,
)
class DeltaSink(Committing, Transactional):
    """Writes records to a Delta Lake table, creating it from the first records' fields; with
    `key`, a record replaces the row with its key (merge). Exactly-once with checkpoints: each
    checkpoint becomes one table version, committed once it is saved."""

    def __init__(self, config: DeltaSinkConfig, context: SinkContext) -> None:
        try:  # deltalake and pyarrow: only for the runs using them
            from . import arrowrows, deltalog
        except ImportError as e:  # the checker found deltalake (`needs`), not pyarrow
            raise ConnectorError(
                f"sink `{context.name}` needs the Python package `{e.name}`, which is not "
                f"installed\n  hint: pip install '{DELTA[1]}'"
            ) from e

        self.arrow = arrowrows
        self.name = context.name
        self.root = context.base_dir / config.path
        self.shown = display_path(str(self.root), context.base_dir)
        self.key = key_fields(config.key)
        self.log = deltalog.DeltaLog(
            self.root,
            f"rillet:{sink_identity(context)}",
            self.key,
            key_fields(config.partition_by),
        )
        self.error_type = deltalog.DeltaError
        self.metadata = {"rillet.pipeline": context.pipeline, "rillet.sink": context.name}
        self.staging = EpochStaging(self.root, context.worker)
        self.resume: int | None = None
        self.schema: Any = None  # a pyarrow Schema once records came
        self.declared = self.arrow.declared_types(context.schema)
        self.epoch = 1
        self.chunks = 0  # files staged in this epoch
        self.buffer: list[dict] = []

    def restore(self, committed: dict) -> None:
        check_path(self.name, committed, self.shown)
        self.resume = int(committed["epoch"])

    async def open(self) -> None:
        applied = await self._run(self.log.committed_epoch)
        self.schema = await self._run(self.log.schema)
        if self.resume is None:
            self.staging.clear()
            self.epoch = applied + 1
            return
        done = self.resume
        if applied > done and not self.key:
            raise ConnectorError(
                f"sink `{self.name}`: table {self.shown} already holds this sink's rows up to "
                f"epoch {applied}, past the checkpoint being resumed (epoch {done}): resuming "
                "would write rows twice\n  hint: run with --fresh to start over, or give the "
                "sink a `key`, so that rows written again replace themselves"
            )
        await self._commit_staged(done, applied)
        self.staging.drop_after(done)
        self.epoch = max(done, applied) + 1

    async def write(self, records: list[dict]) -> None:
        for record in records:
            absent = next((f for f in self.key if record.get(f) is None), None)
            if absent is not None:
                raise ConnectorError(
                    f"sink `{self.name}`: record without `{absent}` (of the table's key): "
                    f"{self.arrow.shown(record)}"
                )
        self.buffer += records
        if len(self.buffer) >= BUFFER_ROWS:
            await anyio.to_thread.run_sync(self._stage)  # encoding a buffer takes a while

    def _stage(self) -> None:
        import pyarrow.parquet as pq

        rows, self.buffer = self.buffer, []
        if not rows:
            return
        table = self.arrow.to_table(rows, self.schema, self.name, self.declared)
        self.schema = table.schema
        path = self.staging.folder(self.epoch) / f"chunk-{self.chunks}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        fsync(path)
        self.chunks += 1

    async def precommit(self) -> dict:
        """Stage what is buffered: the epoch is durable, not yet in the table."""
        await anyio.to_thread.run_sync(self._stage)
        epoch = self.epoch
        self.epoch, self.chunks = epoch + 1, 0
        return {"epoch": epoch, "path": self.shown}

    async def commit(self, committed: dict) -> None:
        await self._commit_staged(int(committed["epoch"]), 0)

    async def _commit_staged(self, upto: int, applied: int) -> None:
        """Commit each staged epoch up to `upto` as one version, but those up to `applied`,
        which the table's log already records for this writer (a crash came between its commit
        and the staging's cleanup)."""
        for epoch, folder in self.staging.epochs():
            if epoch > upto:
                break
            if epoch > applied:
                rows = self._read_staged(folder)
                await self._run(self.log.commit, rows, epoch, self.metadata)
            self.staging.drop(folder)

    def _read_staged(self, folder: Any) -> Any:
        import pyarrow as pa
        import pyarrow.parquet as pq

        tables = [pq.read_table(p) for p in sorted(folder.glob("chunk-*.parquet"), key=_chunk)]
        rows = pa.concat_tables(tables, promote_options="permissive")
        return self.arrow.last_of_each(rows, self.key) if self.key else rows

    async def _run(self, call: Any, *args: Any) -> Any:
        try:
            return await anyio.to_thread.run_sync(call, *args)
        except self.error_type as e:
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ConnectorError(f"sink `{self.name}`: table {self.shown}: {reason}") from e

    async def aclose(self) -> None:
        """Forget what was not precommitted: a resumed run writes it again."""
        self.buffer = []


def _chunk(path: Any) -> int:
    return int(path.stem.removeprefix("chunk-"))
