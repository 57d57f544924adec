"""The `file` connector: source (jsonl, csv, lines; a path or a glob; `follow=true`) and lookup
table; its sink is `filesink.py`.

Files of a glob are read one after the other in name order; a batch never spans two files, so
each batch names its file and every offset is an offset into that file: bytes for jsonl and
lines, data rows from 1 for csv. With `follow=true` the source never ends: it waits for appended
lines and for new files matching the glob, flushing a partial batch after `batch_timeout`.
gzip and zstd files are read through their compression (`compressed.py`); their byte offsets
count uncompressed bytes.
"""

from __future__ import annotations

import functools
import glob
import os
from pathlib import Path
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
    ZSTD_INSTALL,
    Compression,
    Reader,
    compression_of,
    open_reader,
    zstd_available,
)
from .formats import (
    CsvParser,
    CsvRows,
    Unparsed,
    decode_jsonl,
    decode_lines,
)
from .lines import LineSplitter

plugin = Plugin("std")

CHUNK_BYTES = 1 << 20
FOLLOW_POLL_S = 0.05


class FileSourceConfig(msgspec.Struct, forbid_unknown_fields=True):
    path: str
    format: Literal["jsonl", "csv", "lines"] = "jsonl"
    follow: bool = False
    compression: Compression = "auto"
    delimiter: str = ","
    header: bool = True

    def __post_init__(self) -> None:
        _check_compression(self.path, self.compression)
        check_csv(self.format, self.delimiter, self.header)


class FileTableConfig(msgspec.Struct, forbid_unknown_fields=True):
    path: str
    format: Literal["jsonl", "csv"] = "jsonl"
    key: str = "id"
    compression: Compression = "auto"
    delimiter: str = ","
    header: bool = True

    def __post_init__(self) -> None:
        _check_compression(self.path, self.compression)
        check_csv(self.format, self.delimiter, self.header)


def invalid(key: str, message: str) -> ValueError:
    """A config error that `rillet check` shows under argument `key` (in msgspec's own form)."""
    return ValueError(f"{message} - at `$.{key}`")


def _check_compression(path: str, setting: str) -> None:
    """zstd files need a decompressor that may not be installed: say so before the run."""
    if compression_of(path, setting) == "zstd" and not zstd_available():
        key = "path" if setting == "auto" else "compression"
        raise invalid(key, f"reading zstd needs the `zstandard` package: {ZSTD_INSTALL}")


def check_csv(fmt: str, delimiter: str, header: bool) -> None:
    """One delimiter character that cannot be mistaken for quoting or a row's end; and the csv
    options only with csv, where a jsonl source given them would silently ignore them."""
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise invalid("delimiter", 'a delimiter is one character, other than `"` and line ends')
    if fmt != "csv" and (delimiter != "," or not header):
        key = "delimiter" if delimiter != "," else "header"
        raise invalid(key, f'`{key}` applies to format="csv" only')


@functools.lru_cache(maxsize=256)  # asked once per batch, for the same few files
def display_path(path: str, base_dir: Path) -> str:
    try:
        return os.path.relpath(path, base_dir) if Path(path).is_relative_to(base_dir) else path
    except ValueError:
        return path


def _count(n: int, unit: str) -> str:
    return f"{n:,} {unit}{'' if n == 1 else 's'}"


class _LineFile:
    """One jsonl or lines file being read."""

    def __init__(self, reader: Reader, fmt: str, context: SourceContext) -> None:
        self.reader = reader
        self.splitter = LineSplitter()
        self.fmt = fmt
        self.schema = context.schema

    @property
    def position(self) -> int:
        """The byte offset of the next line to read."""
        return self.splitter.position

    @property
    def read_bytes(self) -> int:
        """Bytes of the file itself read so far (compressed ones, for a compressed file)."""
        return self.position if type(self.reader) is Reader else self.reader.raw_read

    def seek(self, offset: int) -> int:
        """Go to byte `offset` (of the uncompressed text: a compressed file is decompressed
        up to there); returns how far the file reaches towards it (less when it was cut
        since)."""
        offset = self.reader.skip(offset)
        self.splitter = LineSplitter(offset)
        return offset

    def fill(self, want: int) -> bool:
        """Read until `want` lines are ready; False at the end of the file's current data."""
        while self.splitter.pending < want:
            chunk = self.reader.read(CHUNK_BYTES)
            if not chunk:
                return False
            self.splitter.feed(chunk)
        return True

    @property
    def pending(self) -> int:
        return self.splitter.pending

    def unread(self) -> bool:
        return self.reader.unread()

    def finish(self) -> None:
        self.reader.finish()
        self.splitter.finish()

    def take(self, n: int) -> SourceBatch:
        lines, offsets = self.splitter.take(n)
        if self.fmt == "lines":
            return SourceBatch(decode_lines(lines, offsets), offsets)
        records, kept, bad = decode_jsonl(lines, offsets, self.schema)
        return SourceBatch(records, kept, bad=bad)

    def close(self) -> None:
        self.reader.close()


class _CsvFile:
    """One csv file being read: its lines joined into whole rows, quoted newlines included.

    Only whole rows reach the parser: a row whose newline has not been written yet, or whose
    quoted value is still open, waits for more data (a followed file) or for `finish`."""

    def __init__(
        self, reader: Reader, context: SourceContext, delimiter: str, header: bool
    ) -> None:
        self.reader = reader
        self.splitter = LineSplitter()
        self.parser = CsvParser(delimiter)
        self.rows = CsvRows(context.schema, header, delimiter)
        self.buffer: list[list[str] | Unparsed] = []

    @property
    def position(self) -> int:
        """Data rows read so far (the offset of the last one)."""
        return self.rows.row

    def seek(self, rows: int) -> int:
        """Skip `rows` data rows; returns how many there were (fewer when the file was cut
        since). A last row without its newline counts, as it did once the file ended."""
        for ended in (False, True):
            if ended:
                self.finish()
            while self.rows.row < rows and (self.fill(1) or self.pending):
                self.take(1)
            if self.rows.row == rows:
                break
        return self.rows.row

    def fill(self, want: int) -> bool:
        while len(self.buffer) < want:
            chunk = self.reader.read(CHUNK_BYTES)
            if not chunk:
                return False
            self.splitter.feed(chunk)
            self._parse()
        return True

    def _parse(self) -> None:
        lines, _ = self.splitter.take(self.splitter.pending)
        self.buffer += self.parser.rows(lines)

    @property
    def pending(self) -> int:
        return len(self.buffer)

    @property
    def read_bytes(self) -> int:
        return self.reader.raw_read

    def unread(self) -> bool:
        return bool(self.buffer) or self.parser.pending or self.reader.unread()

    def finish(self) -> None:
        self.reader.finish()
        self.splitter.finish()
        self._parse()
        self.buffer += self.parser.finish()

    def take(self, n: int) -> SourceBatch:
        rows, self.buffer = self.buffer[:n], self.buffer[n:]
        records, offsets, bad = self.rows.decode(rows)
        return SourceBatch(records, offsets, bad=bad)

    def close(self) -> None:
        self.reader.close()


@plugin.source("file", config=FileSourceConfig, reads="path")
class FileSource(Seekable, ReportsProgress, KnowsUnread):
    """Reads records from a file or a glob of files (jsonl, csv or lines)."""

    def __init__(self, config: FileSourceConfig, context: SourceContext) -> None:
        self.config = config
        self.context = context
        self.pattern = str(context.base_dir / config.path)
        self.files: list[str] = []
        self.index = 0
        self.current: _LineFile | _CsvFile | None = None
        self._sizes: list[int] = []  # of `files`, taken once for `progress`

    def _matching(self) -> list[str]:
        if glob.has_magic(self.pattern):
            return sorted(p for p in glob.glob(self.pattern) if os.path.isfile(p))
        return [self.pattern] if os.path.isfile(self.pattern) else []

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
        self.files = done + [p for p in self._matching() if p not in done]
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
        return any(p not in self.files for p in self._matching())

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
        self.files = self._matching()
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
            self.files += [p for p in self._matching() if p not in self.files]
        if self.index >= len(self.files):
            return False
        path = self.files[self.index]
        self.index += 1
        shown = display_path(path, self.context.base_dir)
        try:
            reader = open_reader(
                path, self.config.compression, f"source `{self.context.name}`: cannot read {shown}"
            )
            if self.config.format == "csv":
                self.current = _CsvFile(
                    reader, self.context, self.config.delimiter, self.config.header
                )
            else:
                self.current = _LineFile(reader, self.config.format, self.context)
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
            last = self.index >= len(self.files) and not (
                self.config.follow and len(self._matching()) > len(self.files)
            )
            if not (self.config.follow and last):
                current.finish()
                if current.pending:
                    break
                if last:  # stays open, so `position()` names its end: a later run reads on
                    return None
                current.close()
                self.current = None
                continue
            # following: flush a partial batch once it is old enough, or return an empty one
            now = clock.monotonic_s()
            if deadline is None:
                deadline = now + self.context.batch_timeout_s
            elif now >= deadline:
                if current.pending:
                    break
                return SourceBatch(
                    [], [], display_path(self.files[self.index - 1], self.context.base_dir)
                )
            await clock.sleep(min(FOLLOW_POLL_S, self.context.batch_timeout_s))
        batch = current.take(size)
        batch.file = display_path(self.files[self.index - 1], self.context.base_dir)
        return batch

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
