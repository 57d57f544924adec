"""One file of a `file` source being read, in chunks, into batches of records: lines files by
line, csv files by whole rows (quoted newlines included); jsonl files are `jsonlfile.py`'s.
Which files to read, and when, is the source's (`file.py`)."""

from __future__ import annotations

from rillet.runtime.plugin import SourceBatch, SourceContext

from .compressed import Reader
from .formats import (
    CsvParser,
    CsvRows,
    Unparsed,
    decode_lines,
)
from .lines import LineSplitter

CHUNK_BYTES = 1 << 20


class LineFile:
    """One lines file being read: each line becomes `{"line": text}`."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.splitter = LineSplitter()

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
        return SourceBatch(decode_lines(lines, offsets), offsets)

    def close(self) -> None:
        self.reader.close()


class CsvFile:
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
