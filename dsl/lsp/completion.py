"""What completion offers at a place, read from the text before it and the checked program.

The text decides what kind of word comes next (an operator after `|`, a field inside `where`, an
argument inside a connector's call); the checked program, perhaps of an earlier version that
parsed (`analysis.py`), knows the records' fields and the components' names. Text is read in
code points, as `Span`s count columns.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from .. import ast
from ..checked import Checked
from ..signature import annotation_text, signature
from .hover import param_value, type_text
from .keywords import DECLARATIONS, OPERATORS
from .locate import Place, flow_at, records_into


@dataclass(frozen=True)
class Suggestion:
    label: str
    kind: str
    """field, keyword, function, operator, connector, argument or name (a declared one)."""
    detail: str = ""
    insert: str | None = None
    """What to write, when it is not the label (`path=` for argument `path`)."""


CONNECTOR_DECL = re.compile(r"(source|table|sink)\s+\w+\s*(?::\s*\w+\s*)?=\s*(\w*)$")
SCHEMA_SLOT = re.compile(r"(?:source|table)\s+\w+\s*:\s*\w*$")
STREAM_HEAD = re.compile(r"stream\s+\w+\s*=\s*\w*$")
OPERATOR_SLOT = re.compile(r"\s*\w*$")
SINK_SLOT = re.compile(r"\s*(?:late\s+)?into\s+\w*$")
JOIN_SLOT = re.compile(r"\s*(?:\w+\s+)?join\s+\w*$")
TABLE_SLOT = re.compile(r"\s*lookup\s+\w*$")
KEYWORD = re.compile(r"\s*(\w+)\s*=(?!=)")


def completions(text: str, place: Place, checked: Checked | None) -> list[Suggestion]:
    if checked is None:
        return []
    statement = _statement(text, place)
    call = _open_call(statement)
    if call is not None:
        return _arguments(checked, statement, call)
    declared = CONNECTOR_DECL.match(statement)
    if declared:
        return _components(checked, declared.group(1), "connector")
    if SCHEMA_SLOT.match(statement):
        return [Suggestion(name, "name", "schema") for name in checked.schemas]
    if STREAM_HEAD.match(statement):
        return _flows(checked)
    if re.fullmatch(r"\w*", statement.rsplit("\n", 1)[-1]):  # a new statement, or a flow's head
        return [Suggestion(word, "keyword") for word in DECLARATIONS] + _flows(checked)
    bars = [index for index, char in _outside_strings(statement) if char == "|"]
    return _in_flow(checked, statement[bars[-1] + 1 :], place) if bars else []


def _statement(text: str, place: Place) -> str:
    """The text from the start of the statement at `place` up to `place`: statements start at
    a line's first column; a line starting with a blank, `|`, `}` or `#` goes on the one above."""
    line, col = place
    lines = text.split("\n")[:line]
    if not lines:
        return ""
    lines[-1] = lines[-1][: col - 1]
    start = len(lines) - 1
    while start > 0 and not re.match(r"\w", lines[start]):
        start -= 1
    return "\n".join(lines[start:])


def _outside_strings(text: str) -> Iterator[tuple[int, str]]:
    """Each character of `text` that is not inside a string literal, with its index."""
    quote = ""
    escaped = False
    for index, char in enumerate(text):
        if quote:
            escaped = not escaped and char == "\\"
            quote = "" if char == quote and not escaped else quote
        elif char in "\"'":
            quote = char
        else:
            yield index, char


def _open_call(statement: str) -> int | None:
    """Where the innermost `(` still open at the end of `statement` is."""
    opened: list[int] = []
    for index, char in _outside_strings(statement):
        if char == "(":
            opened.append(index)
        elif char == ")" and opened:
            opened.pop()
    return opened[-1] if opened else None


def _given(arguments: str) -> tuple[int, set[str]]:
    """How many positional arguments come before the one being typed, and the names of the
    keyword ones, in the text of a call's arguments so far."""
    depth, cuts = 0, [-1]
    for index, char in _outside_strings(arguments):
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(char, 0)
        if char == "," and depth == 0:
            cuts.append(index)
    done = [arguments[a + 1 : b] for a, b in zip(cuts, cuts[1:])]
    keywords = [m.group(1) for piece in done if (m := KEYWORD.match(piece))]
    return len(done) - len(keywords), set(keywords)


def _arguments(checked: Checked, statement: str, call: int) -> list[Suggestion]:
    """A connector's argument names not given yet, inside its declaration's call."""
    declared = CONNECTOR_DECL.match(statement[:call].rstrip())
    if declared is None:
        return []
    spec = checked.registry.written(declared.group(1), declared.group(2))
    if spec is None:
        return []
    positional, named = _given(statement[call + 1 :])
    return [
        Suggestion(
            p.name, "argument", _parameter(p.annotation, p.required, p.default), f"{p.name}="
        )
        for p in spec.params[positional:]
        if p.name not in named
    ]


def _parameter(annotation: object, required: bool, default: object) -> str:
    kind = annotation_text(annotation)
    return kind if required else f"{kind} = {default!r}"


def _components(checked: Checked, kind: str, shown_as: str) -> list[Suggestion]:
    registry = checked.registry
    return [
        Suggestion(name, shown_as, signature(spec))
        for name in registry.names(kind)
        if (spec := registry.written(kind, name)) is not None
    ]


def _flows(checked: Checked) -> list[Suggestion]:
    return [Suggestion(name, "name", "source") for name in checked.sources] + [
        Suggestion(name, "name", "stream") for name in checked.streams
    ]


def _in_flow(checked: Checked, segment: str, place: Place) -> list[Suggestion]:
    """After the last `|` of a flow: `segment` is the operator written so far."""
    if OPERATOR_SLOT.fullmatch(segment):
        keywords = [Suggestion(k, "keyword", OPERATORS[k][0]) for k in OPERATORS]
        return keywords + _components(checked, "operator", "operator")
    if SINK_SLOT.fullmatch(segment):
        return [Suggestion(name, "name", "sink") for name in checked.sinks]
    if JOIN_SLOT.fullmatch(segment):
        return _flows(checked)
    if TABLE_SLOT.fullmatch(segment):
        return [Suggestion(name, "name", "table") for name in checked.tables]
    found = _fields(checked, place)
    found += [Suggestion(n, "name", f"param = {param_value(checked, n)}") for n in checked.params]
    found += _components(checked, "function", "function")
    if re.match(r"\s*(aggregate|rolling)\b", segment):
        found += _components(checked, "aggregate", "function")
    return found


def _fields(checked: Checked, place: Place) -> list[Suggestion]:
    flow: ast.Flow | None = flow_at(checked.program, place)
    record = None if flow is None else records_into(checked, flow, place)
    if record is None or record.fields is None:
        return []
    return [Suggestion(name, "field", type_text(t)) for name, t in record.fields.items()]
