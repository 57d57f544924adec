"""Splitting a byte stream into lines while remembering where each line starts.

Shared by the file and stdin sources: offsets are byte offsets into the input, which is what an
error record reports and what a checkpoint will seek back to.
"""

from __future__ import annotations

from itertools import accumulate, count
from operator import add


class LineSplitter:
    def __init__(self, offset: int = 0) -> None:
        self._lines: list[bytes] = []
        self._offsets: list[int] = []
        self._next = 0
        self._rest = b""
        self._rest_offset = offset

    def feed(self, chunk: bytes) -> None:
        """Add bytes; complete lines become available to `take`."""
        if self._next:
            del self._lines[: self._next], self._offsets[: self._next]
            self._next = 0
        parts = (self._rest + chunk).split(b"\n")
        self._rest = parts.pop()
        if not parts:
            return
        sums = accumulate(map(len, parts), initial=self._rest_offset)
        starts = list(map(add, sums, count()))  # each line also had its "\n"
        self._rest_offset = starts.pop()
        self._lines += parts
        self._offsets += starts

    def finish(self) -> None:
        """The input ended: a last line without a newline counts as a line."""
        if self._rest:
            self.feed(b"\n")

    @property
    def position(self) -> int:
        """The byte offset of the first line not yet taken."""
        return self._offsets[self._next] if self.pending else self._rest_offset

    @property
    def pending(self) -> int:
        return len(self._lines) - self._next

    def take(self, max_lines: int) -> tuple[list[bytes], list[int]]:
        start, stop = self._next, min(self._next + max_lines, len(self._lines))
        self._next = stop
        return self._lines[start:stop], self._offsets[start:stop]
