"""Regular expressions of `=~`, run by RE2 so that no record can stall a run.

Python's `re` backtracks: `"^(a+)+$"` takes minutes on 33 characters, holding the event loop
(and with it every stage, checkpoint and stop signal) for as long. RE2 runs any pattern in time
linear in the text, at the price of the constructs that need backtracking (backreferences,
lookaround, atomic groups), which `problem` explains to the checker.

The hot path calls RE2 through the binding's compiled object rather than its `re`-like module:
`=~` only needs whether there is a match, and the module's `search` spends most of its time
building a match object and mapping byte offsets back to characters (about 2.5 µs a call,
against 0.4 µs here; Python's `re` takes 0.1 µs on a short text). A pattern that is plain text,
like `^/checkout`, is answered by a string method instead, as fast as `re` was. Should a later
binding drop the compiled object, the module's `search` is used.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, NewType

import re2

try:  # the compiled RE2 object under the `re`-like module (google-re2 ≥ 1.1)
    from re2 import _re2

    _UNANCHORED: Any = _re2.RE2.Anchor.UNANCHORED
except (ImportError, AttributeError):  # pragma: no cover - a binding without it
    _re2 = None

MAX_MEMORY = 8 << 20
r"""Bytes RE2 may use for one compiled pattern (its default): a pattern that needs more, like
`\pL{1000}`, is refused when the file is checked rather than slowing a run."""


def _options(capture: bool = False) -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # errors come back as exceptions; RE2 would also print them
    options.never_capture = not capture  # `=~` reads no groups: the matcher can skip them
    options.max_mem = MAX_MEMORY
    return options


class RegexError(ValueError):
    """A pattern RE2 refuses: `message` and `label` for a diagnostic, `hints` to fix it."""

    def __init__(self, message: str, label: str, *hints: str) -> None:
        super().__init__(label)
        self.message, self.label, self.hints = message, label, hints


_LINEAR = (
    "rillet runs every pattern (`=~`, `extract`) in time linear in the text (RE2), which rules "
    "out constructs that need backtracking"
)

_UNSUPPORTED = (  # (what RE2 says about the pattern, the construct, a way around it)
    (
        r"invalid escape sequence: \\[1-9]",
        "a backreference",
        "match the repeated text explicitly, or compare two fields with `==`",
    ),
    (
        r"invalid escape sequence: \\[gk]",
        "a backreference",
        "match the repeated text explicitly, or compare two fields with `==`",
    ),
    (
        r"invalid perl operator: \(\?P=",
        "a backreference",
        "match the repeated text explicitly, or compare two fields with `==`",
    ),
    (
        r"invalid perl operator: \(\?=",
        "a lookahead",
        'match the text itself, or add a second condition: `x =~ "a" and x =~ "b"`',
    ),
    (
        r"invalid perl operator: \(\?!",
        "a negative lookahead",
        'add a second condition instead: `x =~ "a" and not x =~ "b"`',
    ),
    (
        r"invalid perl operator: \(\?<[=!]",
        "a lookbehind",
        'match the text before it too, or add a second condition: `x =~ "a" and not x =~ "b"`',
    ),
    (
        r"invalid perl operator: \(\?>",
        "an atomic group",
        "write the group without `?>`: RE2 never backtracks into it anyway",
    ),
    (
        r"bad repetition operator: \S*[*+?}]\+$",
        "a possessive quantifier",
        "drop the last `+`: RE2 never backtracks into a repetition anyway",
    ),
    (
        r"invalid perl operator: \(\?\(",
        "a conditional",
        "split the pattern into two conditions joined by `or`",
    ),
    (
        r"invalid escape sequence: \\Z",
        "`\\Z`",
        "RE2 writes it `\\z` (the end of the text); `$` works too",
    ),
    (r"invalid escape sequence: \\G", "`\\G`", "anchor with `^` instead"),
    (
        r"invalid perl operator: \(\?#",
        "a `(?#...)` comment",
        "put the comment after the pattern, as a `#` comment at the end of the line",
    ),
    (
        r"invalid perl operator: \(\?[xuaL]",
        "that flag",
        "RE2 knows the flags `i`, `m`, `s` and `U`",
    ),
)


_BACKTRACKING = {
    "a backreference",
    "a lookahead",
    "a negative lookahead",
    "a lookbehind",
    "an atomic group",
    "a possessive quantifier",
    "a conditional",
}


def _refusal(reason: str, pattern: str) -> RegexError:
    """RE2's reason for refusing a pattern, in the checker's words."""
    if reason == "invalid perl operator: (?P" and "(?P=" in pattern:
        reason += "="  # RE2 stops at the `P`; a named backreference is what was meant
    for said, construct, way in _UNSUPPORTED:
        if re.match(said, reason):
            if construct == "that flag":
                construct = f"the flag `{reason.partition(': ')[2]})`"
            hints = (_LINEAR, way) if construct in _BACKTRACKING else (way,)
            return RegexError(f"{construct} cannot be used in a regular expression", reason, *hints)
    if reason.startswith("invalid repetition size"):
        counts = [int(n) for n in re.findall(r"[0-9]+", reason)]
        hint = (
            "the smaller count comes first"
            if counts == sorted(counts, reverse=True)
            and len(counts) == 2
            and counts[0] != counts[1]
            else "a count is at most 1000, and so is the product of nested counts"
        )
        return RegexError("invalid regular expression", reason, hint)
    if reason.startswith("pattern too large"):
        return RegexError(
            "regular expression too large",
            f"it needs more than {MAX_MEMORY >> 20} MiB once compiled",
            "use smaller repetition counts, or split the pattern into several "
            "conditions joined by `and`",
        )
    return RegexError("invalid regular expression", reason)


def _compiled(pattern: str, capture: bool = False) -> Any:
    """The compiled pattern, or `RegexError`."""
    if "\\C" in pattern.replace("\\\\", ""):
        raise RegexError(
            "`\\C` cannot be used in a regular expression",
            "`\\C` matches one byte of a character's UTF-8 encoding",
            "use `.` for one character",
        )
    try:
        return re2.compile(pattern, _options(capture))
    except re2.error as e:
        reason = (
            e.args[0].decode("utf-8", "replace")
            if e.args and isinstance(e.args[0], bytes)
            else str(e)
        )
        raise _refusal(reason, pattern) from None


Regex = NewType("Regex", str)
"""The type of a function parameter that holds a regular expression (`extract`'s `pattern`):
the checker refuses a literal pattern RE2 cannot run, as it does for `=~`."""


@lru_cache(maxsize=256)
def capturing(pattern: str) -> Any:
    """`pattern` compiled to capture groups (`search(text).group(n)`), or `RegexError`; cached,
    since a function gets its pattern anew with every record."""
    return _compiled(pattern, capture=True)


def problem(pattern: str) -> RegexError | None:
    """Why `pattern` cannot be used with `=~`, or None when it can."""
    try:
        _compiled(pattern)
    except RegexError as e:
        return e
    return None


_LITERAL = re.compile(r"(\^?)((?:[^.^$*+?()\[\]{}|\\]|\\[.^$*+?()\[\]{}|\\/-])*)(\$?)")
r"""A pattern that is a plain text, maybe anchored: `^/checkout`, `bot`, `\.csv$`."""


def _literal(pattern: str) -> Callable[[Any], bool] | None:
    """For a pattern that is plain text, a string method that answers as RE2 would, in a
    fraction of the time (`^/checkout` is `startswith`); None for any other pattern."""
    found = _LITERAL.fullmatch(pattern)
    if found is None:
        return None
    start, text, end = found.group(1), re.sub(r"\\(.)", r"\1", found.group(2)), found.group(3)
    if start and end:

        def test(value: str) -> bool:
            return value == text
    elif start:

        def test(value: str) -> bool:
            return value.startswith(text)
    elif end:

        def test(value: str) -> bool:
            return value.endswith(text)
    else:

        def test(value: str) -> bool:
            return text in value

    def literal(value: Any) -> bool:
        if type(value) is not str:
            raise TypeError(_not_text(value))
        return test(value)

    return literal


def searcher(pattern: str) -> Callable[[Any], bool]:
    """A function telling whether `pattern` matches anywhere in a string, in time linear in
    its length; a value that is not a string raises `TypeError` (a bad record)."""
    compiled = _compiled(pattern)
    literal = _literal(pattern)
    if literal is not None:
        return literal
    if _re2 is None:  # pragma: no cover - a binding without the compiled object
        search = compiled.search

        def slow(text: Any) -> bool:
            if not isinstance(text, str):
                raise TypeError(_not_text(text))
            return search(text) is not None

        return slow
    match = _re2.RE2(pattern.encode(), _options()).Match
    anchor = _UNANCHORED

    def fast(text: Any) -> bool:
        try:
            data = text.encode("utf-8", "surrogatepass")
        except AttributeError:
            raise TypeError(_not_text(text)) from None
        return match(anchor, data, 0, len(data))[0][0] >= 0

    return fast


def _not_text(value: Any) -> str:
    name = {bool: "bool", int: "int", float: "float", list: "list", dict: "record"}.get(
        type(value), type(value).__name__
    )
    return f"`=~` matches text, got {name}"


__all__ = ["MAX_MEMORY", "RegexError", "problem", "searcher"]
