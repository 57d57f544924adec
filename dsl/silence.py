"""Silencing a warning where it stands: `# rillet: allow W1003 -- why` at the end of the line the
warning points at, or alone on the line above it (several codes: `allow W1001, W1003`). The
reason after `--` is for the next reader; rillet keeps it out of its output.

A silence that silences nothing on its line warns itself (`W1000`), as does one rillet cannot
read or one naming a code that is not a warning: so silences do not outlive the problem they
excused, and a typo does not silence quietly. Silences are applied once the check is done, to
every warning with a place (the lints of `lint.py` and the others alike); errors never are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import msgspec

from rillet.runtime.plan import Span

from .codes import CODES
from .comment import Comment
from .diagnostic import Diagnostic, SourceText, warning

_MARK = re.compile(r"#\s*rillet\s*:")
_ALLOW = re.compile(r"#\s*rillet:\s*allow\s+([A-Z]\d{4}(?:\s*,\s*[A-Z]\d{4})*)\s*(?:--.*)?$")
_CODE = re.compile(r"[A-Z]\d{4}")
FORM = "`# rillet: allow CODE -- why`"


def allow_hint(code: str) -> str:
    return f"if this is meant, say so at the end of the line: `# rillet: allow {code} -- why`"


class Silence(msgspec.Struct, frozen=True):
    line: int
    """The line whose warnings it silences."""
    code: str
    span: Span
    """Where the code stands in the comment."""


def apply_silences(
    diagnostics: list[Diagnostic], comments: Iterable[Comment], source: SourceText
) -> list[Diagnostic]:
    """The diagnostics without the silenced warnings, plus a `W1000` for each silence that is
    unreadable or, when the check ran to its end (no errors), silences nothing."""
    silences, problems = _read(comments, source)
    wanted = {(s.line, s.code) for s in silences}
    used: set[tuple[int, str]] = set()
    kept = []
    for d in diagnostics:
        place = (d.span.line, d.code) if d.span is not None else None
        if d.severity == "warning" and place in wanted:
            used.add(place)
        else:
            kept.append(d)
    if not any(d.severity == "error" for d in diagnostics):
        problems += [_stale(s) for s in silences if (s.line, s.code) not in used]
    return sorted(kept + problems, key=_position)


def _read(
    comments: Iterable[Comment], source: SourceText
) -> tuple[list[Silence], list[Diagnostic]]:
    silences: list[Silence] = []
    problems: list[Diagnostic] = []
    for comment in comments:
        if not _MARK.match(comment.text):
            continue
        allow = _ALLOW.match(comment.text.rstrip())
        if allow is None:
            problems.append(
                warning(
                    "W1000",
                    "rillet cannot read this silence",
                    comment.span,
                    "not a silence rillet knows",
                    f"a silence reads {FORM}",
                )
            )
            continue
        line = _silenced_line(comment, source)
        for found in _CODE.finditer(comment.text, allow.start(1), allow.end(1)):
            col = comment.span.col + found.start()
            span = Span(comment.span.line, col, comment.span.line, col + len(found.group()))
            code = found.group()
            if code in CODES and code.startswith("W"):
                silences.append(Silence(line, code, span))
                continue
            what = "an error, which cannot be silenced" if code in CODES else "not a code"
            problems.append(warning("W1000", f"`{code}` is {what}", span, "silences nothing"))
    return silences, problems


def _silenced_line(comment: Comment, source: SourceText) -> int:
    """Its own line after code; alone on its line, the next line with code."""
    line = comment.span.line
    if source.line(line)[: comment.span.col - 1].strip():
        return line
    following = line + 1
    while following <= len(source.lines) and source.line(following).strip()[:1] in ("", "#"):
        following += 1
    return following


def _stale(silence: Silence) -> Diagnostic:
    where = f"line {silence.line}"
    return warning(
        "W1000",
        f"this silence of `{silence.code}` silences nothing: there is no `{silence.code}` on "
        f"{where}",
        silence.span,
        "nothing to silence",
        "remove the silence, or move it to the line the warning points at",
    )


def _position(d: Diagnostic) -> tuple[int, int]:
    return (0, 0) if d.span is None else (d.span.line, d.span.col)


__all__ = ["FORM", "Silence", "allow_hint", "apply_silences"]
