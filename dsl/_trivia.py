"""What lies between the tokens of a pipeline file: comments and blank lines, for `fmt.py`.

Lark drops comments: `grammar.lark` ignores a `#` comment after code, and swallows comment-only
lines into the newline token `_NL` or into the ignored newline before a `|` or a closing
bracket. None of them reach the tree, but every one of them lies in the text between two
tokens that do, and that text holds nothing else: spaces, line breaks, `\\` line continuations
and comments (a `#` inside a string is part of a STRING token, never of a gap). So each gap is
read here, from the token positions, and the formatter puts its comments back where they were.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from lark import Token

_CONTINUATION = re.compile(r"\\[\t \f]*\r?\n")


@dataclass(frozen=True)
class Gap:
    """The text before a token. `trailing` is the comment that ends the previous token's line;
    `lines` are the whole lines after it, each a comment or None for a blank line."""

    trailing: str | None = None
    lines: tuple[str | None, ...] = ()

    @property
    def comments(self) -> list[str]:
        found = [self.trailing] if self.trailing else []
        return found + [line for line in self.lines if line]


NO_GAP = Gap()


def read_gap(text: str, after_token: bool, at_end: bool) -> Gap:
    """The comments and blank lines in `text`, the characters between two tokens (or before the
    first, `after_token` false, or after the last, `at_end`)."""
    segments = _CONTINUATION.sub(" ", text).split("\n")
    if not at_end:
        segments.pop()  # the indentation of the token's own line
    trailing = None
    if after_token and segments:
        trailing = segments.pop(0).strip() or None
    lines = tuple(segment.strip() or None for segment in segments)
    return Gap(trailing, lines)


def gaps(text: str, tokens: Sequence[Token]) -> tuple[dict[int, Gap], Gap]:
    """The gap before each token, by its offset in `text`, and the gap after the last one."""
    before: dict[int, Gap] = {}
    end = 0
    for index, token in enumerate(tokens):
        start = token.start_pos or 0
        before[start] = read_gap(text[end:start], index > 0, False)
        end = token.end_pos or start
    return before, read_gap(text[end:], bool(tokens), True)
