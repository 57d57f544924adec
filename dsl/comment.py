"""Comments, which the grammar ignores, kept for the checker: a `# rillet: allow CODE` comment
silences a warning (`silence.py`). The lexer hands over every token of the terminals that may
hold one (`COMMENT` after code; `_NL` and `CONTINUATION`, the line breaks, for comment lines)
through a callback that `parser.py` registers; this module picks the comments out of them.
Must not: parse them (that is `silence.py`'s), nor change what the parser reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

import msgspec

from rillet.runtime.plan import Span

if TYPE_CHECKING:
    from lark import Token


class Comment(msgspec.Struct, frozen=True):
    """A `#` comment: its place (up to the end of its line) and its text from `#` on."""

    span: Span
    text: str


_COMMENT = re.compile(r"#[^\n]*")
_kept: ContextVar[list[Token] | None] = ContextVar("_kept", default=None)


def keep_comments(token: Token) -> Token:
    """The lexer callback. The lexer is built once and shared, so the parse under way says
    where its tokens go (a context variable), and other parses are left alone."""
    kept = _kept.get()
    if kept is not None and "#" in token.value:
        kept.append(token)
    return token


@contextmanager
def collect_comments() -> Iterator[Callable[[], tuple[Comment, ...]]]:
    """Keeps the comments lexed inside the block; the value gives them, in file order."""
    tokens: list[Token] = []
    reset = _kept.set(tokens)
    try:
        yield lambda: _comments(tokens)
    finally:
        _kept.reset(reset)


def _comments(tokens: list[Token]) -> tuple[Comment, ...]:
    """A line-break token holds only line breaks, blanks and whole-line comments, so each `#`
    in it starts one. A token lexed twice (the parser retrying) counts once."""
    found: dict[tuple[int, int], Comment] = {}
    for token in tokens:
        assert isinstance(token.line, int) and isinstance(token.column, int)
        for match in _COMMENT.finditer(token.value):
            before = token.value[: match.start()]
            newlines = before.count("\n")
            line = token.line + newlines
            col = match.start() - before.rfind("\n") if newlines else token.column + match.start()
            span = Span(line, col, line, col + len(match.group()))
            found[(line, col)] = Comment(span, match.group().removesuffix("\r"))
    return tuple(found[place] for place in sorted(found))


__all__ = ["Comment", "collect_comments", "keep_comments"]
