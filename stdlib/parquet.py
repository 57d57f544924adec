"""The `parquet` sink: a folder of Parquet files, one set per checkpoint, exactly-once.

Files are written into a staging folder beside the output (`staging.py`), never inside it, so
no reader of the output sees a file before its checkpoint is saved; `commit` moves each into its
partition folder with a rename, which a reader sees whole or not at all. The call order is
runtime/connector.py's:

- `write()` buffers records by partition folder; past `BUFFER_ROWS` the buffers are written out
  as staged files (what bounds the sink's memory between checkpoints).
- `precommit()` writes the rest, fsyncs, and returns `{"epoch": n, ...}`: the sink's n-th
  checkpoint, whose files are named `part-<n>-<i>.parquet`.
- `commit({"epoch": n})` moves the staged files of every epoch up to n into place.
- `restore({"epoch": n})` then `open()` (a resumed run): staged epochs up to n that a crash kept
  from being moved are moved now, anything staged or visible from a later epoch (never part of a
  saved checkpoint) is deleted, and epochs go on from n + 1. A fresh run deletes the sink's
  earlier files and staging, and starts at epoch 1.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import anyio
import msgspec

from rillet.runtime.plugin import Committing, Plugin, SinkContext, Transactional

from .extras import PARQUET
from .filepaths import display_path
from .partitions import by_folder, partition_folders
from .staging import EpochStaging, check_path, fsync
from .tablekeys import check_fields, key_fields

plugin = Plugin("std")

BUFFER_ROWS = 100_000
"""Records a sink holds before writing them out as staged files."""


class ParquetSinkConfig(msgspec.Struct, forbid_unknown_fields=True):
    path: str
    """The output folder, relative to the pipeline file's."""
    partition_by: list[str] = []
    """Fields whose values name the partition folders (`dt=2026-12-03/`), outermost first."""
    compression: Literal["zstd", "snappy", "gzip", "lz4", "brotli", "none"] = "zstd"
    """Parquet's codec."""

    def __post_init__(self) -> None:
        check_fields("partition_by", self.partition_by, empty_ok=True)


@plugin.sink(
    "parquet",
    config=ParquetSinkConfig,
    delivery="exactly-once",
    exclusive="path",
    needs=PARQUET,
    typed=True,
)
class ParquetSink(Committing, Transactional):
    """Writes records to a folder of Parquet files, in Hive-style partition folders with
    `partition_by`; columns and their types come from the records' fields. Exactly-once with
    checkpoints: each checkpoint's files appear by rename once it is saved."""

    def __init__(self, config: ParquetSinkConfig, context: SinkContext) -> None:
        from . import arrowrows  # pyarrow: only for the runs using it

        self.arrow = arrowrows
        self.config = config
        self.name = context.name
        self.root = context.base_dir / config.path
        self.staging = EpochStaging(self.root, context.worker)
        worker = f"w{context.worker}-" if context.workers > 1 else ""
        self.pattern = re.compile(rf"part-(\d+)-{worker}\d+\.parquet")
        self.file_name = "part-{epoch}-" + worker + "{n}.parquet"
        self.shown = display_path(str(self.root), context.base_dir)
        self.partition_by = key_fields(config.partition_by)
        self.resume: dict | None = None
        self.schema: Any = None  # a pyarrow Schema once records came
        self.declared = self.arrow.declared_types(context.schema)
        self.epoch = 1
        self.files = 0  # files staged in this epoch
        self.buffers: dict[str, list[dict]] = {}
        self.buffered = 0

    def restore(self, committed: dict) -> None:
        check_path(self.name, committed, self.shown)
        self.resume = committed

    async def open(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        resume = self.resume
        if resume is None:
            self.staging.clear()
            self._delete_visible(after=0)
            return
        done = int(resume["epoch"])
        self._move_staged(done)
        self.staging.drop_after(done)
        self._delete_visible(after=done)
        self.schema = self.arrow.decoded(resume.get("schema"))
        self.epoch = done + 1

    def _delete_visible(self, after: int) -> None:
        """Delete this sink's files of epochs past `after`: written by a run whose checkpoint
        was never saved, or (`after` 0) by an earlier run a fresh one starts over from."""
        for folder in partition_folders(self.root, len(self.partition_by)):
            for file in folder.glob("part-*.parquet"):
                matched = self.pattern.fullmatch(file.name)
                if matched and int(matched[1]) > after:
                    file.unlink()

    async def write(self, records: list[dict]) -> None:
        for folder, rows in by_folder(records, self.partition_by).items():
            self.buffers.setdefault(folder, []).extend(rows)
        self.buffered += len(records)
        if self.buffered >= BUFFER_ROWS:
            await anyio.to_thread.run_sync(self._stage)  # encoding a buffer takes a while

    def _stage(self) -> None:
        """Write every buffer out as a staged file of the current epoch, fsynced."""
        import pyarrow.parquet as pq

        buffers, self.buffers, self.buffered = self.buffers, {}, 0
        epoch_folder = self.staging.folder(self.epoch)
        for folder, rows in buffers.items():
            table = self.arrow.to_table(rows, self.schema, self.name, self.declared)
            self.schema = table.schema
            path = epoch_folder / folder / self.file_name.format(epoch=self.epoch, n=self.files)
            path.parent.mkdir(parents=True, exist_ok=True)
            data = table.drop_columns([f for f in self.partition_by if f in table.column_names])
            pq.write_table(data, path, compression=self.config.compression)
            fsync(path)
            self.files += 1

    async def precommit(self) -> dict:
        """Stage what is buffered: the epoch's files are durable, not yet in the output."""
        await anyio.to_thread.run_sync(self._stage)
        epoch = self.epoch
        self.epoch, self.files = epoch + 1, 0
        return {"epoch": epoch, "path": self.shown, "schema": self.arrow.encoded(self.schema)}

    async def commit(self, committed: dict) -> None:
        self._move_staged(int(committed["epoch"]))

    def _move_staged(self, upto: int) -> None:
        """Move the staged files of every epoch up to `upto` into their partition folders (a
        move interrupted by a crash is finished by the next `open`)."""
        for epoch, epoch_folder in self.staging.epochs():
            if epoch > upto:
                break
            moved: set[Path] = set()
            for staged in sorted(epoch_folder.rglob("*.parquet")):
                target = self.root / staged.relative_to(epoch_folder)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, target)
                moved.add(target.parent)
            for folder in moved:
                fsync(folder)
            self.staging.drop(epoch_folder)

    async def aclose(self) -> None:
        """Forget what was not precommitted: a resumed run writes it again."""
        self.buffers, self.buffered = {}, 0
