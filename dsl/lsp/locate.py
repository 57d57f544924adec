"""Which syntax-tree nodes lie under a place in the file, and what flows into an operator.

Places are (line, col), 1-based as `Span`s count them; a place at a node's end still touches it,
so the word just typed (`stat|`) is found.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec

from rillet.runtime.plan import Span, TypeSpec

from .. import ast
from ..checked import Checked
from ..types import RecordType

Place = tuple[int, int]


def touches(span: Span, place: Place) -> bool:
    return (span.line, span.col) <= place <= (span.end_line, span.end_col)


def nodes_at(program: ast.Program, place: Place) -> list[ast.Node]:
    """The nodes under `place`, outermost first (a statement, ..., the innermost name)."""
    found: list[ast.Node] = []
    children: tuple[object, ...] = program.statements
    while True:
        inner = next(
            (c for c in _nodes(children) if touches(c.span, place)),
            None,
        )
        if inner is None:
            return found
        found.append(inner)
        children = tuple(getattr(inner, f) for f in inner.__struct_fields__)


def role(parent: ast.Node, child: ast.Node) -> str | None:
    """The attribute of `parent` that holds `child` (directly or in a tuple)."""
    for name in parent.__struct_fields__:
        value = getattr(parent, name)
        if value is child or (isinstance(value, tuple) and any(v is child for v in value)):
            return name
    return None


def _nodes(values: tuple[object, ...]) -> Iterator[ast.Node]:
    for value in values:
        if isinstance(value, ast.Node):
            yield value
        elif isinstance(value, tuple):
            yield from _nodes(value)


def flows(program: ast.Program) -> Iterator[ast.Flow]:
    for statement in program.statements:
        if isinstance(statement, ast.StreamDecl):
            yield statement.flow
        elif isinstance(statement, ast.Flow):
            yield statement


def flow_at(program: ast.Program, place: Place) -> ast.Flow | None:
    """The flow being written at `place`: that of the last statement starting at or before it,
    which may end before `place` when the program is from an earlier version of the text."""
    last: ast.Statement | None = None
    for statement in program.statements:
        if (statement.span.line, statement.span.col) > place:
            break
        last = statement
    if isinstance(last, ast.StreamDecl):
        return last.flow
    return last if isinstance(last, ast.Flow) else None


def records_into(checked: Checked, flow: ast.Flow, place: Place) -> RecordType | None:
    """The records that reach the operator at `place`: what the operators wholly before it
    pass on, or what the flow's head reads."""
    before = [op for op in flow.ops if (op.span.end_line, op.span.end_col) < place]
    before = [op for op in before if not touches(op.span, place)]
    if before:
        return checked.types.get(before[-1])
    if isinstance(flow.head, ast.Ident):
        return checked.stream_types.get(flow.head.text)
    return _union(checked, flow.head)


def _union(checked: Checked, head: ast.UnionHead) -> RecordType | None:
    """Every field some stream of the union has: each record has some of them."""
    fields: dict[str, TypeSpec] = {}
    for ident in head.streams:
        record = checked.stream_types.get(ident.text)
        if record is None or record.fields is None:
            return RecordType()
        fields = {**record.fields, **fields}
    fields = {name: msgspec.structs.replace(t, optional=True) for name, t in fields.items()}
    return RecordType(fields, "the `union`")
