"""One jsonl file of a `file` source, read a chunk at a time: the complete lines of a chunk are
decoded by one msgspec call (`decode_lines`) straight into records, without first being cut
into lines or joined into an array (two fifths of the cost of reading a line). Record `i` of a
chunk is then line `i`, so batches are slices of the records, and a line's byte offset is
worked out only when someone reads it (an error record, a checkpoint's position).

A chunk that the fast path could read differently than line by line goes the careful way
(`formats.decode_jsonl`, a batch of lines at a time): one with a bad line, a blank line or one
that starts with white space (a line holding two objects would then not show in the count), a
record over two lines, or a byte-order mark at the start of the file."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from itertools import accumulate, chain, count
from operator import add
from typing import Any

import msgspec
import re2

from rillet.runtime.plugin import BadRecord, LazyOffsets, Schema, SourceBatch

from .compressed import Reader
from .formats import decode_jsonl
from .lines import BOM, LineOffsets

CHUNK_BYTES = 1 << 20
_SPACE_LED = re2.compile(rb"\n[\n \t\r]")  # a line after the first, blank or led by space
"""RE2 rather than `re`: it finds the pattern's first byte with `memchr`, five times faster
over a chunk (0.09 ms a MiB against 0.46), which was a twentieth of reading a file."""
_SPACES = (b"\n", b" ", b"\t", b"\r")
_any_record = msgspec.json.Decoder(dict[str, Any])


class _Decoded:
    """The complete lines of one chunk (`data[first:stop]`), decoded one record per line."""

    __slots__ = ("_starts", "data", "first", "next", "records", "start", "stop")

    def __init__(self, start: int, data: bytes, first: int, stop: int, records: list) -> None:
        self.start, self.data, self.first, self.stop = start, data, first, stop
        self.records = records
        self.next = 0  # the first line not yet taken
        self._starts: list[int] | None = None

    @property
    def left(self) -> int:
        return len(self.records) - self.next

    def next_offset(self) -> int:
        return self.offset(self.next)

    def about_next_offset(self) -> int:
        """`next_offset`, exact once the lines' starts are known, else as if the lines taken
        held their share of the chunk's bytes."""
        if self._starts is not None:
            return self._starts[self.next]
        return self.start + (self.stop - self.first) * self.next // len(self.records)

    def offset(self, line: int) -> int:
        """The byte offset in the file of line `line` (of the end, for the one past the last)."""
        return self.starts()[line]

    def starts(self) -> list[int]:
        """Where each line starts, and the end: worked out once, on first asking."""
        if self._starts is None:
            lines = self.data[self.first : self.stop].split(b"\n")
            lengths = accumulate(map(len, lines), initial=self.start)
            self._starts = list(map(add, lengths, count()))  # each line also had its "\n"
        return self._starts

    def take(self, n: int) -> tuple[list[Any], Sequence[Any], list[BadRecord]]:
        first = self.next
        self.next = min(first + n, len(self.records))
        return self.records[first : self.next], _ChunkOffsets(self, first, self.next), []


class _Lines:
    """The complete lines of a chunk that goes the careful way."""

    __slots__ = ("lines", "next", "position")

    def __init__(self, start: int, data: bytes) -> None:
        self.lines = data.split(b"\n")
        self.lines.pop()  # after the last newline: nothing
        self.next = 0
        self.position = start  # where the first line not yet taken starts

    @property
    def left(self) -> int:
        return len(self.lines) - self.next

    def next_offset(self) -> int:
        return self.position

    about_next_offset = next_offset

    def take(
        self, n: int, schema: Schema | None
    ) -> tuple[list[Any], Sequence[Any], list[BadRecord]]:
        lines = self.lines[self.next : self.next + n]
        self.next += len(lines)
        offsets = LineOffsets(self.position, lines)
        self.position += sum(map(len, lines)) + len(lines)
        if offsets[0] == 0 and lines[0].startswith(BOM):  # not part of the text; its bytes
            lines = [lines[0][len(BOM) :], *lines[1:]]  # still count in the offsets
        return decode_jsonl(lines, offsets, schema)


class _ChunkOffsets(LazyOffsets):
    """The byte offsets of lines `first` to `stop` of a decoded chunk."""

    __slots__ = ("_chunk", "_first", "_stop")

    def __init__(self, chunk: _Decoded, first: int, stop: int) -> None:
        super().__init__()
        self._chunk, self._first, self._stop = chunk, first, stop

    def __len__(self) -> int:
        return self._stop - self._first

    def _compute(self) -> list[int]:
        return self._chunk.starts()[self._first : self._stop]


class _Joined(LazyOffsets):
    """The offsets of a batch taken from two or more chunks."""

    __slots__ = ("_parts",)

    def __init__(self, parts: list[Sequence[Any]]) -> None:
        super().__init__()
        self._parts = parts

    def __len__(self) -> int:
        return sum(map(len, self._parts))

    def _compute(self) -> list[Any]:
        return list(chain.from_iterable(self._parts))


class JsonlFile:
    """One jsonl file being read (the same calls as `filereaders.LineFile`)."""

    def __init__(
        self, reader: Reader, schema: Schema | None, chunk_bytes: int = CHUNK_BYTES
    ) -> None:
        self.reader = reader
        self.schema = schema
        self.chunk_bytes = chunk_bytes
        self._decode = schema.decode_json_lines if schema else _any_record.decode_lines
        self._reset(0)

    def _reset(self, offset: int) -> None:
        self._chunks: deque[_Decoded | _Lines] = deque()
        self._pending = 0
        self._rest = b""  # after the last newline read
        self._end = offset  # where `_rest` starts

    @property
    def position(self) -> int:
        """The byte offset of the next line to read."""
        if not self._chunks:
            return self._end
        return self._chunks[0].next_offset()

    @property
    def read_bytes(self) -> int:
        """Bytes of the file itself read so far (compressed ones, for a compressed file), for
        the monitor's progress bar: within a decoded chunk, estimated from the share of its
        lines taken (`position` splits the chunk into its lines to say exactly)."""
        if type(self.reader) is not Reader:
            return self.reader.raw_read
        if not self._chunks:
            return self._end
        return self._chunks[0].about_next_offset()

    def seek(self, offset: int) -> int:
        """Go to byte `offset` (of the uncompressed text); returns how far the file reaches
        towards it (less when it was cut since)."""
        offset = self.reader.skip(offset)
        self._reset(offset)
        return offset

    def fill(self, want: int) -> bool:
        """Read until `want` lines are ready; False at the end of the file's current data."""
        while self._pending < want:
            chunk = self.reader.read(self.chunk_bytes)
            if not chunk:
                return False
            self._feed(chunk)
        return True

    def _feed(self, chunk: bytes) -> None:
        """Take in the complete lines of `chunk` (with the line begun in the chunk before),
        decoded where they are: no copy of the chunk."""
        first = 0
        if self._rest:  # the line it began: decoded on its own
            first = chunk.find(b"\n") + 1
            if not first:
                self._rest += chunk
                return
            line, self._rest = self._rest + chunk[:first], b""
            self._add(line, 0, len(line))
        stop = chunk.rfind(b"\n") + 1
        if stop > first:
            self._add(chunk, first, stop)
        self._rest = chunk[max(stop, first) :]

    def _add(self, data: bytes, first: int, stop: int) -> None:
        """Add the complete lines `data[first:stop]`, which come next in the file."""
        start, self._end = self._end, self._end + stop - first
        decoded = self._decoded(start, data, first, stop)
        added = decoded if decoded is not None else _Lines(start, data[first:stop])
        self._chunks.append(added)
        self._pending += added.left

    def _decoded(self, start: int, data: bytes, first: int, stop: int) -> _Decoded | None:
        """The lines decoded one record per line, or None when the fast path could read them
        otherwise than line by line."""
        if data[first : first + 1] in _SPACES or _SPACE_LED.search(data, first, stop):
            return None
        if start == 0 and data.startswith(BOM, first):
            return None
        try:
            records = self._decode(memoryview(data)[first:stop])
        except Exception:  # a bad line: found, and said why, the careful way
            return None
        if len(records) != data.count(b"\n", first, stop):
            return None
        return _Decoded(start, data, first, stop, records)

    @property
    def pending(self) -> int:
        return self._pending

    def unread(self) -> bool:
        return self.reader.unread()

    def finish(self) -> None:
        """The file ended: a last line without a newline counts as a line."""
        self.reader.finish()
        if self._rest:
            self._feed(b"\n")

    def take(self, n: int) -> SourceBatch:
        records: list[Any] = []
        parts: list[Sequence[Any]] = []
        bad: list[BadRecord] = []
        while n and self._chunks:
            chunk = self._chunks[0]
            before = chunk.left
            if isinstance(chunk, _Decoded):
                got, offsets, errors = chunk.take(n)
            else:
                got, offsets, errors = chunk.take(n, self.schema)
            taken = before - chunk.left
            n -= taken
            self._pending -= taken
            records = got if not records else records + got
            parts.append(offsets)
            bad += errors
            if not chunk.left:
                self._chunks.popleft()
        offsets = parts[0] if len(parts) == 1 else _Joined(parts) if parts else []
        return SourceBatch(records, offsets, bad=bad)

    def close(self) -> None:
        self.reader.close()
