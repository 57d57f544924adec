"""The `file` sink (jsonl, csv), exactly-once: one file, or with `partition_by` one file per
partition folder (`out/dt=2026-12-03/clicks.jsonl` for `file("out/clicks.jsonl",
partition_by=["dt"])`, folders as partitions.py names them). Each file is a `SinkFile`
(sinkfile.py): a checkpoint records its committed length, and a resumed run cuts it back there.

With partitions, a checkpoint records the state of each folder's file; a resumed run cuts each
file back to its own, and deletes a folder's file that the checkpoint does not know (begun after
it). A fresh run deletes the files of every partition folder before it writes, starting the
output over as a single file is started over."""

from __future__ import annotations

from typing import Literal

import msgspec

from rillet.runtime.plugin import Plugin, SinkContext, Transactional

from .compressed import compression_of
from .filecheck import check_csv, invalid
from .partitions import by_folder, partition_folders
from .sinkfile import SinkFile
from .tablekeys import check_fields, key_fields

plugin = Plugin("std")


class FileSinkConfig(msgspec.Struct, forbid_unknown_fields=True):
    path: str
    format: Literal["jsonl", "csv"] = "jsonl"
    delimiter: str = ","
    header: bool = True
    partition_by: list[str] = []
    """Fields whose values name the folders the file is written into, one file per folder."""

    def __post_init__(self) -> None:
        if compression_of(self.path, "auto") != "none":  # plain text under a .gz name
            raise invalid(
                "path",
                "the `file` sink writes uncompressed text: name the file "
                "without its .gz or .zst, and compress it once written",
            )
        check_csv(self.format, self.delimiter, self.header)
        check_fields("partition_by", self.partition_by, empty_ok=True)


@plugin.sink(
    "file",
    config=FileSinkConfig,
    delivery="exactly-once",
    exclusive="path",
    encodes=lambda c: c.format == "jsonl" and not c.partition_by,
)
class FileSink(Transactional):
    """Writes records to a file as JSON lines or CSV, creating its folder; with `partition_by`,
    to one such file in each partition folder (`dt=2026-12-03/`). Exactly-once with
    checkpoints: a resumed run cuts each file back to the length committed at the checkpoint it
    resumes from, then writes on."""

    def __init__(self, config: FileSinkConfig, context: SinkContext) -> None:
        self.config = config
        self.context = context
        path = context.base_dir / config.path
        if context.workers > 1:  # each worker writes its own file: out.jsonl -> out.w0.jsonl
            path = path.with_name(f"{path.stem}.w{context.worker}{path.suffix}")
        self.root, self.file_name = path.parent, path.name
        self.partition_by = key_fields(config.partition_by)
        self.files: dict[str, SinkFile] = {}
        self.committed: dict[str, dict] | None = None
        if not self.partition_by:
            self.files[""] = SinkFile(config, context, path)

    def restore(self, committed: dict) -> None:
        """Resume at `committed`: one file's state, or each partition folder's."""
        if not self.partition_by:
            self.files[""].restore(committed)
        else:
            self.committed = dict(committed.get("folders", {}))

    async def open(self) -> None:
        if not self.partition_by:
            await self.files[""].open()
            return
        committed = self.committed or {}
        for folder in partition_folders(self.root, len(self.partition_by)):
            file = folder / self.file_name
            relative = folder.relative_to(self.root).as_posix()
            if relative in committed:
                await self._file(relative)
            elif file.is_file():  # begun after the checkpoint, or by the run a fresh one redoes
                file.unlink()

    async def _file(self, folder: str) -> SinkFile:
        """The open file of partition folder `folder`."""
        file = self.files.get(folder)
        if file is None:
            file = SinkFile(self.config, self.context, self.root / folder / self.file_name)
            state = (self.committed or {}).get(folder)
            if state is not None:
                file.restore(state)
            self.files[folder] = file
            await file.open()
        return file

    async def write(self, records: list[dict]) -> None:
        if not self.partition_by:
            await self.files[""].write(records)
            return
        for folder, rows in by_folder(records, self.partition_by).items():
            await (await self._file(folder)).write(rows)

    async def precommit(self) -> dict:
        if not self.partition_by:
            return await self.files[""].precommit()
        return {"folders": {folder: await f.precommit() for folder, f in self.files.items()}}

    async def aclose(self) -> None:
        for file in self.files.values():
            await file.aclose()
