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


class Ident(Node, frozen=True):
    text: str


class Duration(Node, frozen=True):
    ms: int


# -- expressions ---------------------------------------------------------------------------------


class Literal(Node, frozen=True):
    """`kind` is int, float, str, bool, null or duration (a duration's value is in ms)."""

    value: Any
    kind: str


class NameRef(Node, frozen=True):
    """A bare name in an expression: a field of the record, or a `param`."""

    name: str


class This(Node, frozen=True):
    pass


class FieldAccess(Node, frozen=True):
    target: Expr
    name: Ident


class IndexAccess(Node, frozen=True):
    target: Expr
    key: Expr


class KeywordArg(Node, frozen=True):
    name: Ident
    value: Expr


class CallExpr(Node, frozen=True):
    name: Ident
    args: tuple[Expr, ...]
    kwargs: tuple[KeywordArg, ...]


class BinaryExpr(Node, frozen=True):
    op: str
    left: Expr
    right: Expr


class UnaryExpr(Node, frozen=True):
    op: str
    operand: Expr


class MatchExpr(Node, frozen=True):
    operand: Expr
    pattern: Literal


class IfExpr(Node, frozen=True):
    cond: Expr
    then: Expr
    other: Expr


class ListExpr(Node, frozen=True):
    items: tuple[Expr, ...]


class RecordItem(Node, frozen=True):
    key: str
    value: Expr


class RecordExpr(Node, frozen=True):
    items: tuple[RecordItem, ...]


Expr = (
    Literal
    | NameRef
    | This
    | FieldAccess
    | IndexAccess
    | CallExpr
    | BinaryExpr
    | UnaryExpr
    | MatchExpr
    | IfExpr
    | ListExpr
    | RecordExpr
)

# -- operators -----------------------------------------------------------------------------------


class Assignment(Node, frozen=True):
    name: Ident
    value: Expr


class SelectItem(Node, frozen=True):
    name: Ident
    value: Expr | None


class Step(Node, frozen=True, omit_defaults=True, kw_only=True):
    """An operator the author may name (`| where ... as ok_clicks`); `named` is that name.
    Left out of the encoded tree when not given."""

    named: Ident | None = None


class WhereOp(Step, frozen=True):
    cond: Expr


class SelectOp(Step, frozen=True):
    items: tuple[SelectItem, ...]


class DeriveOp(Step, frozen=True):
    items: tuple[Assignment, ...]


class DropOp(Step, frozen=True):
    names: tuple[Ident, ...]


class ExplodeOp(Step, frozen=True):
    field: Ident
    into: Ident | None


class EventTimeOp(Step, frozen=True):
    field: Ident
    lateness: Duration | None
    idle: Duration | None


class WindowOp(Node, frozen=True, omit_defaults=True):
    """`kind` is tumbling, sliding or session; a session's gap is its `size`. `emit_every`:
    the open windows' rows are also emitted this often (`emit every 10s`); left out of the
    encoded tree when not given."""

    kind: str
    size: Duration
    every: Duration | None
    emit_every: Duration | None = None


class EmitOp(Node, frozen=True):
    """`| emit every DUR` on its own: always a mistake (it belongs on a window's line), parsed
    so that the checker can say so."""

    every: Duration


class AggregateOp(Step, frozen=True):
    keys: tuple[Ident, ...]
    items: tuple[Assignment, ...]


class RollingOp(Step, frozen=True):
    """`rolling DUR` (`within`: the key's records in the last DUR of event time) or `rolling
    last N` (`last`: the key's last N records), each record passed on with the items."""

    within: Duration | None
    last: Literal | None
    keys: tuple[Ident, ...]
    items: tuple[Assignment, ...]


class OrderItem(Node, frozen=True):
    field: Ident
    descending: bool


class TopOp(Step, frozen=True):
    """`top N by FIELD [asc|desc], ... [per KEY, ...]`: per window (or the whole input) and
    key, the first `count` records in `order`, ties in arrival order. `order` is empty when
    `by` is missing, which the checker reports."""

    count: Literal
    order: tuple[OrderItem, ...]
    per: tuple[Ident, ...]


class DedupeOp(Step, frozen=True):
    keys: tuple[Ident, ...]
    within: Duration


class JoinKey(Node, frozen=True):
    """`left = right`, a left field equal to a right one; `right` is None when both sides'
    field is `left` (`on user`)."""

    left: Ident
    right: Ident | None


class JoinOp(Step, frozen=True):
    """`within` None: a regular join, every record kept for the whole run. `kind` is the word
    before `join` (`left`), if any."""

    kind: Ident | None
    stream: Ident
    keys: tuple[JoinKey, ...]
    within: Duration | None


class LookupOp(Step, frozen=True):
    table: Ident
    on: Ident


class LateOp(Node, frozen=True):
    sink: Ident


class IntoOp(Node, frozen=True):
    sink: Ident


class PluginOp(Step, frozen=True):
    name: Ident
    args: tuple[Expr, ...]
    kwargs: tuple[KeywordArg, ...]
    concurrency: int | None


Operator = (
    WhereOp
    | SelectOp
    | DeriveOp
    | DropOp
    | ExplodeOp
    | EventTimeOp
    | WindowOp
    | AggregateOp
    | RollingOp
    | TopOp
    | DedupeOp
    | JoinOp
    | LookupOp
    | LateOp
    | IntoOp
    | EmitOp
    | PluginOp
)

# -- statements ----------------------------------------------------------------------------------


class UnionHead(Node, frozen=True):
    streams: tuple[Ident, ...]


class Flow(Node, frozen=True):
    head: Ident | UnionHead
    ops: tuple[Operator, ...]


class ParamDecl(Node, frozen=True):
    name: Ident
    value: Expr


class SetDecl(Node, frozen=True):
    name: Ident
    value: Expr


class UseDecl(Node, frozen=True):
    """`use "path.py"` (is_path) or `use package.module`."""

    target: str
    is_path: bool


class TypeExpr(Node, frozen=True):
    name: Ident
    item: TypeExpr | None
    optional: bool


class FieldDecl(Node, frozen=True):
    name: Ident
    type: TypeExpr


class SchemaDecl(Node, frozen=True):
    name: Ident
    fields: tuple[FieldDecl, ...]


class ConnectorCall(Node, frozen=True):
    name: Ident
    args: tuple[Expr, ...]
    kwargs: tuple[KeywordArg, ...]


class SourceDecl(Node, frozen=True, omit_defaults=True):
    """`then` holds the further parts of a hybrid source (`file(...) then kafka(...)`), read
    after `call` has ended, in order; `after` the event-time field of `... after ts`. Both are
    left out of the encoded tree when not written."""

    name: Ident
    schema: Ident | None
    call: ConnectorCall
    then: tuple[ConnectorCall, ...] = ()
    after: Ident | None = None

    @property
    def parts(self) -> tuple[ConnectorCall, ...]:
        return (self.call, *self.then)


class TableDecl(Node, frozen=True):
    name: Ident
    schema: Ident | None
    call: ConnectorCall


class SinkDecl(Node, frozen=True):
    name: Ident
    call: ConnectorCall


class ErrorsDecl(Node, frozen=True):
    sink: Ident


class StreamDecl(Node, frozen=True):
    name: Ident
    flow: Flow


class Given(Node, frozen=True):
    source: Ident
    value: Expr


class Expect(Node, frozen=True):
    sink: Ident
    ordered: bool
    value: Expr


class TestDecl(Node, frozen=True):
    name: str
    given: tuple[Given, ...]
    expect: tuple[Expect, ...]


class Threshold(Node, frozen=True):
    """What an alert compares its measure with, as written: `80%` (unit `percent`, value 0.8),
    `2m` (unit `duration`, value in ms) or a plain number (unit `number`)."""

    value: float
    unit: str
    text: str


class AlertDecl(Node, frozen=True):
    """`alert NAME when MEASURE OP THRESHOLD [for DURATION]`; `hold` is the `for` duration."""

    name: Ident
    measure: Ident
    op: str
    threshold: Threshold
    hold: Duration | None


Statement = (
    ParamDecl
    | SetDecl
    | UseDecl
    | SchemaDecl
    | SourceDecl
    | TableDecl
    | SinkDecl
    | ErrorsDecl
    | StreamDecl
    | Flow
    | TestDecl
    | AlertDecl
)


class Program(msgspec.Struct, frozen=True):
    statements: tuple[Statement, ...]
