"""`rillet fmt`: one canonical layout for a pipeline file, comments kept where they were.

text → syntax check (`parser.parse`, whose diagnostics a broken file gets) → a concrete syntax
tree (the same grammar, every token kept, so parentheses and commas are there to print) plus
the comments and blank lines between its tokens (`_trivia.py`) → lines (`_fmtprint.py` decides
where they break, `_fmtlines.py` keeps them).

The layout: a statement per line, at most one blank line between statements (as the author left
them); a flow's operators one per line under it, `  | op`; a `schema`'s fields and a `test`'s
`given`/`expect` one per line, the field types lined up; one space around binary operators and
a declaration's or assignment's `=`, none around a keyword argument's `=` (`format="csv"`).
A bracketed list — call arguments, `[...]`, `{...}`, an `aggregate` or `rolling` block —
stays on one line when the author wrote it on one line and it fits in 100 columns; otherwise
it gets one item per line with a trailing comma (an `aggregate` block's `=` lined up); so does
a `derive` or `select` list, its items under the first. Comments that end a line stay at the
end of that line, lined up with the comments of the lines next to it; comment lines stay
before the token that followed them.

The result is checked before it is returned: it must parse to the same syntax tree (spans
aside) and keep every comment, so the formatter can never change what a file means.
"""

from __future__ import annotations

import re
from functools import cache

import msgspec
from lark import Lark

from . import ast
from ._fmtprint import Printer
from .diagnostic import Diagnostic
from .parser import build_lark, parse

_COMMENT_OR_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*')


class FormatError(Exception):
    """The file does not parse; `diagnostics` say where, as `rillet check` would."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("; ".join(d.message for d in diagnostics))
        self.diagnostics = diagnostics


class MeaningChanged(Exception):
    """The layout written would not parse to the same program: a bug, never written out."""


@cache
def _lark() -> Lark:
    return build_lark(keep_all_tokens=True)


def format_text(text: str) -> str:
    """`text` in the canonical layout. Raises `FormatError` when it does not parse, and
    `MeaningChanged` rather than return a text that would mean something else."""
    text = text.removeprefix("\ufeff")
    program, diagnostics = parse(text)
    if program is None:
        raise FormatError(diagnostics)
    tree = _lark().parse(text)
    formatted = Printer(text, tree).text()
    _check_same_meaning(text, program, formatted)
    return formatted


def _check_same_meaning(text: str, program: ast.Program, formatted: str) -> None:
    again, _ = parse(formatted)
    if (
        again is None
        or _without_spans(again) != _without_spans(program)
        or _comments(formatted) != _comments(text)
    ):
        raise MeaningChanged(
            "the new layout would change what the file means or lose a comment, so it is left "
            "as it is (a bug in rillet fmt: please report it with the file)"
        )


def _comments(text: str) -> list[str]:
    """Every comment's text, found apart from the printer's way (a string cannot span lines, so
    a `#` outside one, read from the left, starts a comment)."""
    return [m.group().rstrip() for m in _COMMENT_OR_STRING.finditer(text) if m.group()[0] == "#"]


def _without_spans(program: ast.Program) -> object:
    def strip(value: object) -> object:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "span"}
        if isinstance(value, list | tuple):
            return [strip(v) for v in value]
        return value

    return strip(msgspec.to_builtins(program))
