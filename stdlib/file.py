"""The `file` connector: source (jsonl, csv, lines; a path or a glob; `follow=true`) and lookup
table; its sink is `filesink.py`. Each file is read by `filereaders.py`; the files of a glob are
found by `filepaths.py`; the configs are checked by `filecheck.py`.

Files of a glob are read one after the other in name order; a batch never spans two files, so
each batch names its file and every offset is an offset into that file: bytes for jsonl and
lines, data rows from 1 for csv. With `follow=true` the source never ends: it waits for appended
lines (polled every 1 ms after some came, backing off to 10 ms when quiet: `polling.py`) and
for new files matching the glob (every 50 ms). It hands on the lines that are there as soon as
no more are ready, so batches are small under light load and up to `batch_size` under heavy
load; with nothing at all, it returns an empty batch after `batch_timeout`.
gzip and zstd files are read through their compression (`compressed.py`); their byte offsets
count uncompressed bytes.
"""

from __future__ import annotations

import glob
import os
from typing import Literal

import msgspec

from rillet.runtime.plugin import (
    ConnectorError,
    KnowsUnread,
    Plugin,
    ReportsProgress,
    Seekable,
    SourceBatch,
    SourceContext,
)

from .compressed import (
    Compression,
    Reader,
    open_reader,
)
from .filecheck import check_compression, check_csv
from .filepaths import display_path, matching
from .filereaders import CsvFile, LineFile
from .jsonlfile import JsonlFile
from .polling import PollInterval

plugin = Plugin("std")

FOLLOW_POLL_S = 0.05  # for new files of the glob, and for a first file to appear
FOLLOW_FIRST_POLL_S = 0.001  # for lines appended to the file being followed: right after some came
FOLLOW_LAST_POLL_S = 0.01  # ... and once it has been quiet a while


class FileSourceConfig(msgspec.Struct, forbid_unknown_fields=True):
    path: str
    format: Literal["jsonl", "csv", "lines"] = "jsonl"
    follow: bool = False
    compression: Compression = "auto"
    delimiter: str = ","
    header: bool = True

    def __post_init__(self) -> None:
        check_compression(self.path, self.compression)
        check_csv(self.format, self.delimiter, self.header)


class FileTableConfig(msgspec.Struct, forbid_unknown_fields=True):
    path: str
    format: Literal["jsonl", "csv"] = "jsonl"
    key: str = "id"
    compression: Compression = "auto"
    delimiter: str = ","
    header: bool = True

    def __post_init__(self) -> None:
        check_compression(self.path, self.compression)
        check_csv(self.format, self.delimiter, self.header)


def _count(n: int, unit: str) -> str:
    return f"{n:,} {unit}{'' if n == 1 else 's'}"


@plugin.source("file", config=FileSourceConfig, reads="path", ends=lambda c: not c.follow)
class FileSource(Seekable, ReportsProgress, KnowsUnread):
    """Reads records from a file or a glob of files (jsonl, csv or lines)."""

    def __init__(self, config: FileSourceConfig, context: SourceContext) -> None:
        self.config = config
        self.context = context
        self.pattern = str(context.base_dir / config.path)
        self.files: list[str] = []
        self.index = 0
        self.current: JsonlFile | LineFile | CsvFile | None = None
        self.shown = ""  # the last file opened, as batches and messages name it
        self._sizes: list[int] = []  # of `files`, taken once for `progress`
        self.wait = PollInterval(
            FOLLOW_FIRST_POLL_S, min(FOLLOW_LAST_POLL_S, context.batch_timeout_s)
        )
        self._globbed_s = -FOLLOW_POLL_S  # when the glob was last looked at for new files
        self._matched = 0  # files the glob matched when last looked at

    def position(self) -> dict:
        """Files read to the end, and the file being read with the offset of its next record
        (bytes for jsonl and lines, data rows for csv). Paths are relative to the pipeline's
        folder when inside it, so a project folder can move and still resume."""
        base = self.context.base_dir
        finished = self.index - 1 if self.current is not None else self.index
        current = None
        if self.current is not None:
            current = [display_path(self.files[self.index - 1], base), self.current.position]
        return {"done": [display_path(p, base) for p in self.files[:finished]], "current": current}

    def seek(self, position: dict) -> None:
        base = self.context.base_dir
        done = [str(base / p) for p in position["done"]]
        self.files = done + [p for p in matching(self.pattern) if p not in done]
        self.index = len(done)
        if position["current"] is not None:
            path, offset = str(base / position["current"][0]), position["current"][1]
            if path not in self.files[self.index :]:
                raise ConnectorError(
                    f"source `{self.context.name}`: cannot resume: {path} is "
                    "gone (run with --fresh to start over)"
                )
            self.files.remove(path)
            self.files.insert(self.index, path)
            self._open_next()
            assert self.current is not None
            held = self.current.seek(offset)
            if held < offset:
                unit = "data row" if self.config.format == "csv" else "byte"
                if self.config.format != "csv" and type(self.current.reader) is not Reader:
                    unit = "uncompressed byte"
                raise ConnectorError(
                    f"source `{self.context.name}`: cannot resume: {position['current'][0]} "
                    f"holds {_count(held, unit)}, fewer than the {_count(offset, unit)} read "
                    "before the checkpoint being resumed (it was cut or replaced since); run "
                    "with --fresh to read it again from the start"
                )

    async def unread(self) -> bool:
        """Whether there is more to read than what has been: a grown file or a new one."""
        if self.current is not None and self.current.unread():
            return True
        return any(p not in self.files for p in matching(self.pattern))

    def progress(self) -> tuple[int, int] | None:
        """(bytes read, bytes in all) of the matched files, for a progress bar and its ETA;
        None when following, since a followed input has no end. Optional for a source: the
        monitor shows a bar for those that have it."""
        if self.config.follow:
            return None
        if len(self._sizes) != len(self.files):
            self._sizes = [os.path.getsize(p) if os.path.isfile(p) else 0 for p in self.files]
        finished = self.index - 1 if self.current is not None else self.index
        done = sum(self._sizes[:finished])
        if self.current is not None:
            done += self.current.read_bytes
        return done, sum(self._sizes)

    async def open(self) -> None:
        self.files = matching(self.pattern)
        if not self.files and not self.config.follow:
            what = "no file matches" if glob.has_magic(self.pattern) else "no such file"
            # a relative path is looked for beside the pipeline file, which may not be where
            # the command was run from: say which folder that was
            where = (
                ""
                if os.path.isabs(self.config.path)
                else (f" (resolved against {self.context.base_dir})")
            )
            raise ConnectorError(f"source `{self.context.name}`: {what}: {self.config.path}{where}")

    def _open_next(self) -> bool:
        if self.config.follow and self.index >= len(self.files):
            self.files += [p for p in matching(self.pattern) if p not in self.files]
        if self.index >= len(self.files):
            return False
        path = self.files[self.index]
        self.index += 1
        shown = self.shown = display_path(path, self.context.base_dir)
        try:
            reader = open_reader(
                path, self.config.compression, f"source `{self.context.name}`: cannot read {shown}"
            )
            if self.config.format == "csv":
                self.current = CsvFile(
                    reader, self.context, self.config.delimiter, self.config.header
                )
            elif self.config.format == "jsonl":
                self.current = JsonlFile(reader, self.context.schema)
            else:
                self.current = LineFile(reader)
        except OSError as e:
            raise ConnectorError(
                f"source `{self.context.name}`: cannot read {path}: {e.strerror}"
            ) from e
        return True

    async def read_batch(self) -> SourceBatch | None:
        size = self.context.batch_size
        clock = self.context.clock
        deadline: float | None = None
        while True:
            if self.current is None and not self._open_next():
                if not self.config.follow:
                    return None
                now = clock.monotonic_s()
                deadline = deadline if deadline is not None else now + self.context.batch_timeout_s
                if now >= deadline:
                    return SourceBatch([], [])  # nothing came: give the runtime its turn
                await clock.sleep(FOLLOW_POLL_S)
                continue
            current = self.current
            assert current is not None
            if current.fill(size):
                break
            last = self.index >= len(self.files) and not (self.config.follow and self._more_files())
            if not (self.config.follow and last):
                current.finish()
                if current.pending:
                    break
                if last:  # stays open, so `position()` names its end: a later run reads on
                    return None
                current.close()
                self.current = None
                continue
            if current.pending:  # following: hand on what is there, nothing more is ready
                break
            now = clock.monotonic_s()
            if deadline is None:
                deadline = now + self.context.batch_timeout_s
            elif now >= deadline:  # nothing came: give the runtime its turn
                return SourceBatch([], [], self.shown)
            await clock.sleep(self.wait.next_s())
        self.wait.reset()
        batch = current.take(size)
        batch.file = self.shown
        return batch

    def _more_files(self) -> bool:
        """Whether new files match the glob: looked for at most every `FOLLOW_POLL_S`, since
        the appended lines are polled for far more often than that."""
        now = self.context.clock.monotonic_s()
        if now >= self._globbed_s + FOLLOW_POLL_S:
            self._globbed_s = now
            self._matched = len(matching(self.pattern))
        return self._matched > len(self.files)

    async def aclose(self) -> None:
        if self.current is not None:
            self.current.close()
            self.current = None


@plugin.table("file", config=FileTableConfig, reads="path")
class FileTable:
    """A lookup table loaded whole from a jsonl or csv file, keyed by `key`."""

    def __init__(self, config: FileTableConfig, context: SourceContext) -> None:
        self.config = config
        self.context = context

    async def load(self) -> dict[object, dict]:
        config = self.config
        source = FileSource(
            FileSourceConfig(
                config.path,
                config.format,
                compression=config.compression,
                delimiter=config.delimiter,
                header=config.header,
            ),
            self.context,
        )
        await source.open()
        rows: dict[object, dict] = {}
        try:
            while (batch := await source.read_batch()) is not None:
                for record in batch.records:
                    rows[record.get(self.config.key)] = record
        finally:
            await source.aclose()
        return rows
