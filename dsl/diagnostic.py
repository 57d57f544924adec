"""Diagnostics are data: severity, code, message, a labelled span and hints, rendered once.

Every phase (parse, check, plan) collects all of its diagnostics and returns them; the CLI
renders them as rustc-style text with the source line and a caret, or as JSON for tools.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cached_property

import msgspec

from rillet.runtime.plan import Span

from .codes import CODES


class Diagnostic(msgspec.Struct, frozen=True):
    severity: str  # "error" or "warning"
    code: str
    message: str
    span: Span | None = None
    label: str = ""
    hints: tuple[str, ...] = ()


Report = Callable[[Diagnostic], None]
"""Where a stage of the check hands each diagnostic it finds."""


def error(code: str, message: str, span: Span | None, label: str = "", *hints: str) -> Diagnostic:
    assert code in CODES and code[0] == "E", f"{code} is not an error code of codes.py"
    return Diagnostic("error", code, message, span, label, tuple(hints))


def warning(code: str, message: str, span: Span | None, label: str = "", *hints: str) -> Diagnostic:
    assert code in CODES and code[0] == "W", f"{code} is not a warning code of codes.py"
    return Diagnostic("warning", code, message, span, label, tuple(hints))


def did_you_mean(name: str, candidates: Iterable[str], typo_only: bool = False) -> str | None:
    """The closest candidate to a misspelled name, if one is close enough.

    `typo_only` suggests only a name a slip of the keyboard away (at most two edits, one for a
    short name): for functions and operators, which a plugin not installed yet may provide, a
    merely similar name (`country_of` for `count_if`) sends the author the wrong way."""
    import difflib  # here: only a mistake needs it, and every start would pay for it

    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    if not matches:
        return None
    if typo_only and edits(name, matches[0]) > (2 if len(name) > 4 else 1):
        return None
    return matches[0]


def edits(a: str, b: str) -> int:
    """Edits (insert, delete, replace, swap two neighbours) that turn `a` into `b`."""
    previous, current = list(range(len(b) + 1)), [0] * (len(b) + 1)
    before: list[int] = []
    for i, x in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y))
            if i > 1 and j > 1 and x == b[j - 2] and a[i - 2] == y:
                current[j] = min(current[j], before[j - 2] + 1)
        before, previous = previous, current
    return previous[len(b)]


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)


class SourceText(msgspec.Struct, frozen=True, dict=True):  # `dict`: room for `lines`
    """A pipeline file's text under the name diagnostics show for it."""

    path: str
    text: str

    @cached_property
    def lines(self) -> tuple[str, ...]:
        """The text split into lines once: a file with thousands of diagnostics would otherwise
        be split again for each one, and rendering would grow with their number times its
        size."""
        return tuple(self.text.split("\n"))

    def line(self, number: int) -> str:
        """Line `number` (1-based) as the parser counts lines: only `\n` ends one."""
        lines = self.lines
        return lines[number - 1].removesuffix("\r") if 0 < number <= len(lines) else ""


def render_text(diagnostics: Iterable[Diagnostic], source: SourceText) -> str:
    path = _printable(source.path)
    return "\n".join(_render_one(d, source, path) for d in diagnostics)


def _printable(text: str) -> str:
    """Text with control characters escaped, so a message quoting odd input cannot garble the
    terminal (`\x1b`) or break the layout (`\n`)."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def _render_one(d: Diagnostic, source: SourceText, path: str) -> str:
    d = msgspec.structs.replace(
        d,
        message=_printable(d.message),
        label=_printable(d.label),
        hints=tuple(_printable(h) for h in d.hints),
    )
    out = [f"{d.severity}: {d.message}"]
    if d.span is None:
        out.append(f"  --> {path}")
    else:
        number = str(d.span.line)
        pad = " " * len(number)
        # one character per column, so the caret stays under the span
        text = "".join(c if c.isprintable() else " " for c in source.line(d.span.line))
        end = d.span.end_col if d.span.end_line == d.span.line else len(text) + 1
        width = max(1, min(end, len(text) + 1) - d.span.col)
        caret = " " * (d.span.col - 1) + "^" * width
        out += [
            f"{pad}--> {path}:{d.span.line}:{d.span.col}",
            f"{pad} |",
            f"{number} | {text}",
            f"{pad} | {caret}" + (f" {d.label}" if d.label else ""),
        ]
    pad = " " * (len(str(d.span.line)) if d.span else 2)
    out += [f"{pad} = hint: {h}" for h in d.hints]
    return "\n".join(out) + "\n"


def render_json(diagnostics: Iterable[Diagnostic], source: SourceText) -> bytes:
    items = []
    for d in diagnostics:
        # quoted input may hold lone surrogates (argv bytes that are not UTF-8): escape them
        d = msgspec.structs.replace(
            d,
            message=_utf8(d.message),
            label=_utf8(d.label),
            hints=tuple(_utf8(h) for h in d.hints),
        )
        item = msgspec.structs.asdict(d)
        item["file"] = _utf8(source.path)
        items.append(item)
    return msgspec.json.encode({"diagnostics": items})


def _utf8(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
