"""Splitting a byte stream into lines while remembering where each line starts.

Shared by the file and stdin sources: offsets are byte offsets into the input, which is what an
error record reports and what a checkpoint will seek back to. A batch's offsets are worked out
only when something reads them (an error record, an operator that keeps records): most batches
of a healthy run never need them, and counting them costs a fifth of reading a line.
"""

from __future__ import annotations

from itertools import accumulate, count
from operator import add

from rillet.runtime.plugin import LazyOffsets

BOM = b"\xef\xbb\xbf"


class LineOffsets(LazyOffsets):
    """The byte offset of each of `lines`, the first starting at `start`."""

    __slots__ = ("_lines", "_start")

    def __init__(self, start: int, lines: list[bytes]) -> None:
        super().__init__()
        self._start, self._lines = start, lines

    def __len__(self) -> int:
        return len(self._lines)

    def _compute(self) -> list[int]:
        starts = accumulate(map(len, self._lines), initial=self._start)
        offsets = list(map(add, starts, count()))  # each line also had its "\n"
        offsets.pop()  # where the line after the last would start
        return offsets


class LineSplitter:
    def __init__(self, offset: int = 0) -> None:
        self._lines: list[bytes] = []
        self._next = 0
        self._rest = b""
        self._position = offset  # where the first line not yet taken starts

    def feed(self, chunk: bytes) -> None:
        """Add bytes; complete lines become available to `take`."""
        if self._next:
            del self._lines[: self._next]
            self._next = 0
        parts = (self._rest + chunk).split(b"\n")
        self._rest = parts.pop()
        self._lines += parts

    def finish(self) -> None:
        """The input ended: a last line without a newline counts as a line."""
        if self._rest:
            self.feed(b"\n")

    @property
    def position(self) -> int:
        """The byte offset of the first line not yet taken."""
        return self._position

    @property
    def pending(self) -> int:
        return len(self._lines) - self._next

    def take(self, max_lines: int) -> tuple[list[bytes], LineOffsets]:
        """Up to `max_lines` lines and their offsets. A UTF-8 byte-order mark at the start of
        the input is left out of the first line (its bytes still count in the offsets): editors
        on Windows write one, and it is not part of the text."""
        start, stop = self._next, min(self._next + max_lines, len(self._lines))
        self._next = stop
        lines = self._lines[start:stop]
        offsets = LineOffsets(self._position, lines)
        at_start = self._position == 0
        self._position += sum(map(len, lines)) + len(lines)
        if at_start and lines and lines[0].startswith(BOM):
            lines = [lines[0][len(BOM) :], *lines[1:]]  # `offsets` counts the lines as read
        return lines, offsets
