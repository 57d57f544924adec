"""The formatter's output, built a line at a time: code, comment-only lines, blank lines, and
comments that end a line of code (lined up with their neighbours' when the text is joined).

`fmt.py` decides where lines break; this module only keeps them, so that a comment met between
two tokens can end the line that is open, or the last one written when none is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby


@dataclass
class _Line:
    code: str
    comment: str | None = None


@dataclass
class Lines:
    """Lines written so far, and the one open (`None` when the next `put` starts a line)."""

    done: list[_Line] = field(default_factory=list)
    open: str | None = None
    indent: int = 0  # of the next line started

    @property
    def column(self) -> int:
        """Where the next character goes on the open line (or on a new one)."""
        return self.indent if self.open is None else len(self.open)

    def put(self, text: str, space: bool) -> None:
        if self.open is None:
            self.open = " " * self.indent + text
        else:
            self.open += (" " if space else "") + text

    def end(self, next_indent: int) -> None:
        """Close the open line (if any); the next one starts at `next_indent`."""
        if self.open is not None:
            self.done.append(_Line(self.open))
            self.open = None
        self.indent = next_indent

    def trailing(self, comment: str) -> None:
        """A comment that ends the line of the token written last; that line is then closed."""
        if self.open is not None:
            self.done.append(_Line(self.open, comment))
            self.open = None
        else:
            last = next(line for line in reversed(self.done) if line.code.strip())
            last.comment = comment

    def comment_line(self, comment: str) -> None:
        self.done.append(_Line(" " * self.indent + comment))

    def blank(self) -> None:
        """One blank line, never two in a row nor at the top."""
        if self.open is None and self.done and self.done[-1].code:
            self.done.append(_Line(""))

    def text(self) -> str:
        self.end(0)
        while self.done and not self.done[-1].code:
            self.done.pop()
        return "".join(line + "\n" for line in _aligned(self.done))


def _aligned(lines: list[_Line]) -> list[str]:
    """Lines joined with their comments; a run of neighbouring lines that all end in a comment
    has the comments in one column, two spaces after the longest code of the run."""
    out: list[str] = []
    for commented, group in groupby(lines, key=lambda line: line.comment is not None):
        run = list(group)
        if not commented:
            out += [line.code for line in run]
            continue
        column = max(len(line.code) for line in run) + 2
        out += [line.code.ljust(column) + (line.comment or "") for line in run]
    return out
