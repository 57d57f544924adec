"""The syntax tree of a pipeline file: typed, frozen nodes, each with its span in the file.

Produced by `parser.py`, read by `checker.py` and `planner.py`. Nodes are msgspec Structs, so a
tree encodes to JSON as it is (the parser's golden files).
"""

from __future__ import annotations

from typing import Any

import msgspec

from rillet.runtime.plan import Span


class Node(msgspec.Struct, frozen=True, tag=True, tag_field="node", kw_only=True):
    span: Span


class Ident(Node):
    text: str


class Duration(Node):
    ms: int


# -- expressions ---------------------------------------------------------------------------------


class Literal(Node):
    """`kind` is int, float, str, bool, null or duration (a duration's value is in ms)."""

    value: Any
    kind: str


class NameRef(Node):
    """A bare name in an expression: a field of the record, or a `param`."""

    name: str


class This(Node):
    pass


class FieldAccess(Node):
    target: Expr
    name: Ident


class IndexAccess(Node):
    target: Expr
    key: Expr


class KeywordArg(Node):
    name: Ident
    value: Expr


class CallExpr(Node):
    name: Ident
    args: tuple[Expr, ...]
    kwargs: tuple[KeywordArg, ...]


class BinaryExpr(Node):
    op: str
    left: Expr
    right: Expr


class UnaryExpr(Node):
    op: str
    operand: Expr


class MatchExpr(Node):
    operand: Expr
    pattern: Literal


class IfExpr(Node):
    cond: Expr
    then: Expr
    other: Expr


class ListExpr(Node):
    items: tuple[Expr, ...]


class RecordItem(Node):
    key: str
    value: Expr


class RecordExpr(Node):
    items: tuple[RecordItem, ...]


Expr = (
    Literal | NameRef | This | FieldAccess | IndexAccess | CallExpr | BinaryExpr | UnaryExpr
    | MatchExpr | IfExpr | ListExpr | RecordExpr
)

# -- operators -----------------------------------------------------------------------------------


class Assignment(Node):
    name: Ident
    value: Expr


class SelectItem(Node):
    name: Ident
    value: Expr | None


class Step(Node, omit_defaults=True, kw_only=True):
    """An operator the author may name (`| where ... as ok_clicks`); `named` is that name.
    Left out of the encoded tree when not given."""

    named: Ident | None = None


class WhereOp(Step):
    cond: Expr


class SelectOp(Step):
    items: tuple[SelectItem, ...]


class DeriveOp(Step):
    items: tuple[Assignment, ...]


class DropOp(Step):
    names: tuple[Ident, ...]


class ExplodeOp(Step):
    field: Ident
    into: Ident | None


class EventTimeOp(Step):
    field: Ident
    lateness: Duration | None
    idle: Duration | None


class WindowOp(Node):
    """`kind` is tumbling, sliding or session; a session's gap is its `size`."""

    kind: str
    size: Duration
    every: Duration | None


class AggregateOp(Step):
    keys: tuple[Ident, ...]
    items: tuple[Assignment, ...]


class DedupeOp(Step):
    keys: tuple[Ident, ...]
    within: Duration


class JoinOp(Step):
    stream: Ident
    on: Ident
    within: Duration


class LookupOp(Step):
    table: Ident
    on: Ident


class LateOp(Node):
    sink: Ident


class IntoOp(Node):
    sink: Ident


class PluginOp(Step):
    name: Ident
    args: tuple[Expr, ...]
    kwargs: tuple[KeywordArg, ...]
    concurrency: int | None


Operator = (
    WhereOp | SelectOp | DeriveOp | DropOp | ExplodeOp | EventTimeOp | WindowOp | AggregateOp
    | DedupeOp | JoinOp | LookupOp | LateOp | IntoOp | PluginOp
)

# -- statements ----------------------------------------------------------------------------------


class UnionHead(Node):
    streams: tuple[Ident, ...]


class Flow(Node):
    head: Ident | UnionHead
    ops: tuple[Operator, ...]


class ParamDecl(Node):
    name: Ident
    value: Expr


class SetDecl(Node):
    name: Ident
    value: Expr


class UseDecl(Node):
    """`use "path.py"` (is_path) or `use package.module`."""

    target: str
    is_path: bool


class TypeExpr(Node):
    name: Ident
    item: TypeExpr | None
    optional: bool


class FieldDecl(Node):
    name: Ident
    type: TypeExpr


class SchemaDecl(Node):
    name: Ident
    fields: tuple[FieldDecl, ...]


class ConnectorCall(Node):
    name: Ident
    args: tuple[Expr, ...]
    kwargs: tuple[KeywordArg, ...]


class SourceDecl(Node):
    name: Ident
    schema: Ident | None
    call: ConnectorCall


class TableDecl(Node):
    name: Ident
    schema: Ident | None
    call: ConnectorCall


class SinkDecl(Node):
    name: Ident
    call: ConnectorCall


class ErrorsDecl(Node):
    sink: Ident


class StreamDecl(Node):
    name: Ident
    flow: Flow


class Given(Node):
    source: Ident
    value: Expr


class Expect(Node):
    sink: Ident
    ordered: bool
    value: Expr


class TestDecl(Node):
    name: str
    given: tuple[Given, ...]
    expect: tuple[Expect, ...]


class Threshold(Node):
    """What an alert compares its measure with, as written: `80%` (unit `percent`, value 0.8),
    `2m` (unit `duration`, value in ms) or a plain number (unit `number`)."""

    value: float
    unit: str
    text: str


class AlertDecl(Node):
    """`alert NAME when MEASURE OP THRESHOLD [for DURATION]`; `hold` is the `for` duration."""

    name: Ident
    measure: Ident
    op: str
    threshold: Threshold
    hold: Duration | None


Statement = (
    ParamDecl | SetDecl | UseDecl | SchemaDecl | SourceDecl | TableDecl | SinkDecl | ErrorsDecl
    | StreamDecl | Flow | TestDecl | AlertDecl
)


class Program(msgspec.Struct, frozen=True):
    statements: tuple[Statement, ...]
