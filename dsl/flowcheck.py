"""Checking flows: where each flow reads from and writes to, and the fields and types of the
records at every operator.

Record types follow the flow: a schema fixes the fields at the source, `select` and `aggregate`
fix new ones, `derive` adds, `drop` removes. Where fields are known, a name that is not one of
them (nor a `param`) is an error with the closest field as a hint; where they are not (no schema),
any field may exist and reads as null when missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rillet.runtime.plan import TypeSpec
from rillet.runtime.plugin import Param
from rillet.runtime.regex import problem as regex_problem

from . import ast
from .constant import NotConstant, evaluate, kind_of
from .diagnostic import Diagnostic, did_you_mean, error, warning
from .types import (
    NUMERIC,
    RecordType,
    annotation_type,
    annotation_types,
    arithmetic,
    comparable,
    describe,
    join,
    spec_of,
)

if TYPE_CHECKING:
    from .checker import Checked


def flow_streams(flow: ast.Flow) -> list[str]:
    """Names a flow reads, in the order it names them: its head, union members and join
    partners (a list, not a set, so that checking and planning never depend on hashing)."""
    heads = [flow.head] if isinstance(flow.head, ast.Ident) else list(flow.head.streams)
    joined = [op.stream for op in flow.ops if isinstance(op, ast.JoinOp)]
    return list(dict.fromkeys(i.text for i in [*heads, *joined]))


_OPERATOR_NAMES = {
    ast.WhereOp: "where",
    ast.SelectOp: "select",
    ast.DeriveOp: "derive",
    ast.DropOp: "drop",
    ast.ExplodeOp: "explode",
    ast.EventTimeOp: "event_time",
    ast.WindowOp: "window",
    ast.AggregateOp: "aggregate",
    ast.DedupeOp: "dedupe",
    ast.JoinOp: "join",
    ast.LookupOp: "lookup",
    ast.LateOp: "late into",
    ast.IntoOp: "into",
}


def unknown_sink(checked: Checked, ident: ast.Ident) -> Diagnostic | None:
    """The error for a sink name that is not declared, if it is not."""
    if ident.text in checked.sinks:
        return None
    close = did_you_mean(ident.text, checked.sinks)
    label = f"did you mean `{close}`?" if close else "no such sink"
    return error("E0110", f"unknown sink `{ident.text}`", ident.span, label)


class _Scope:
    """What names mean inside one expression: the record's fields and the params."""

    def __init__(
        self,
        record: RecordType,
        where: str,
        aggregates: bool = False,
        keys: frozenset[str] | None = None,
        in_aggregate: bool = False,
    ) -> None:
        self.record = record
        self.where = where
        self.aggregates = aggregates  # aggregate calls allowed here
        self.keys = keys  # inside `aggregate`: the fields usable outside aggregate calls
        self.in_aggregate = in_aggregate  # inside the arguments of an aggregate call


class FlowChecker:
    def __init__(self, checked: Checked, report: Callable[[Diagnostic], None]) -> None:
        self.c = checked
        self.report = report
        self.types: dict[str, RecordType | None] = {}
        # source or stream name -> the `event_time` in effect at its output
        self.times: dict[str, ast.EventTimeOp | None] = {}
        self.read: set[str] = set()
        self.written: set[str] = set()

    def run(self) -> None:
        c = self.c
        for name, (decl, _) in c.sources.items():
            schema = c.schemas.get(decl.schema.text) if decl.schema else None
            self.types[name] = RecordType.of_schema(schema) if schema else RecordType()
        for name in c.stream_order:
            self.types[name], self.times[name] = self.flow(c.streams[name].flow)
        for flow in c.flows:
            out, _ = self.flow(flow)
            writes = any(isinstance(op, ast.IntoOp | ast.LateOp) for op in flow.ops)
            if not writes and out is not None:
                self.report(
                    warning(
                        "W0001",
                        "this flow writes to no sink, so it does nothing",
                        flow.span,
                        "",
                        "end it with `| into SINK`",
                    )
                )
        for name, stream in c.streams.items():
            if name not in c.stream_order:  # in a cycle: what it reads is not unread
                self.read.update(flow_streams(stream.flow))
        for name, (decl, _) in c.sources.items():
            if name not in self.read:
                self.report(warning("W0002", f"source `{name}` is never read", decl.name.span))
        for name, stream in c.streams.items():
            if name not in self.read and name in c.stream_order:
                self.report(warning("W0003", f"stream `{name}` is never read", stream.name.span))

    # -- flows -----------------------------------------------------------------------------------

    def stream_type(self, ident: ast.Ident) -> RecordType | None:
        name = ident.text
        if name in self.types:
            self.read.add(name)
            return self.types[name]
        if name in self.c.streams:  # part of a cycle, already reported
            return None
        known = [*self.c.sources, *self.c.streams]
        close = did_you_mean(name, known)
        if name in self.c.sinks:
            label = f"`{name}` is a sink; flows read sources and streams"
        elif name in self.c.tables:
            label = f"`{name}` is a table; read it with `lookup {name} on FIELD`"
        else:
            label = f"did you mean `{close}`?" if close else "no such source or stream"
        self.report(error("E0112", f"unknown source or stream `{name}`", ident.span, label))
        return None

    def flow(self, flow: ast.Flow) -> tuple[RecordType | None, ast.EventTimeOp | None]:
        """The type of the flow's output records, and the `event_time` in effect there (as
        the planner resolves it)."""
        if isinstance(flow.head, ast.Ident):
            record = self.stream_type(flow.head)
            time = self.times.get(flow.head.text)
        else:
            record = self.union(flow.head)
            times = {id(t): t for t in (self.times.get(s.text) for s in flow.head.streams)}
            time = next(iter(times.values())) if len(times) == 1 else None
        if record is None:
            return None, None
        previous: ast.Operator | None = None
        for op in flow.ops:
            if isinstance(op, ast.WindowOp | ast.DedupeOp | ast.JoinOp) and time is not None:
                self._event_time_field(op, time, record)
            if isinstance(op, ast.LateOp) and not isinstance(previous, ast.AggregateOp):
                self.report(
                    error(
                        "E0501",
                        "`late into` must come right after `aggregate`",
                        op.span,
                        "not after an aggregate",
                    )
                )
            if isinstance(previous, ast.WindowOp) and not isinstance(op, ast.AggregateOp):
                self.report(
                    error(
                        "E0502",
                        "`window` must be followed by `aggregate`",
                        previous.span,
                        "a window needs an aggregate to fill",
                    )
                )
            record = self.operator(op, record, previous)
            previous = op
            if isinstance(op, ast.EventTimeOp):
                time = op
            elif isinstance(op, ast.AggregateOp):
                time = None
        if isinstance(previous, ast.WindowOp):
            self.report(
                error(
                    "E0502",
                    "`window` must be followed by `aggregate`",
                    previous.span,
                    "a window needs an aggregate to fill",
                )
            )
        return record, time

    def _event_time_field(
        self, op: ast.Operator, time: ast.EventTimeOp, record: RecordType
    ) -> None:
        """Windows, `dedupe` and `join` read event time from the field `event_time` named;
        an error when the records here cannot have it any more."""
        name = time.field.text
        if record.fields is None or name in record.fields:
            return
        where = _OPERATOR_NAMES[type(op)]
        dropped = f"; {record.origin} does not keep it" if record.origin else ""
        self.report(
            error(
                "E0507",
                f"`{where}` reads event time from `{name}`, which is not a field here",
                op.span,
                f"declared by `event_time {name}` on line {time.span.line}{dropped}",
                f"keep `{name}`, or declare `event_time` again after the change",
            )
        )

    def union(self, head: ast.UnionHead) -> RecordType | None:
        seen: set[str] = set()
        types = []
        for ident in head.streams:
            if ident.text in seen:
                self.report(error("E0113", f"`{ident.text}` appears twice in `union`", ident.span))
                continue
            seen.add(ident.text)
            t = self.stream_type(ident)
            if t is None:
                return None
            types.append(t)
        if any(t.fields is None for t in types):
            return RecordType()
        fields: dict[str, TypeSpec] = {}
        for t in types:
            assert t.fields is not None
            for name, spec in t.fields.items():
                old = fields.get(name)
                merged = spec.name if old is None else join(old.name, spec.name)
                fields[name] = TypeSpec(merged, optional=True)
        return RecordType(fields, "the `union`")

    def operator(  # noqa: C901 (one case per operator kind, each a line or a call)
        self, op: ast.Operator, record: RecordType, previous: ast.Operator | None
    ) -> RecordType:
        where = f"`{_OPERATOR_NAMES.get(type(op), 'operator')}`"
        line = f"the {where} on line {op.span.line}"
        match op:
            case ast.WhereOp(cond=cond):
                self.expr(cond, _Scope(record, where))
                return record
            case ast.SelectOp(items=items):
                return self._select(items, record, where, line)
            case ast.DeriveOp(items=items):
                for assignment in items:
                    t = self.expr(assignment.value, _Scope(record, where))
                    record = record.with_fields({assignment.name.text: spec_of(t)}, line)
                return record
            case ast.DropOp(names=names):
                return self._drop(names, record, where, line)
            case ast.ExplodeOp(field=field, into=into):
                return self._explode(field, into, record, where, line)
            case ast.EventTimeOp(field=field):
                return self._event_time(field, record, where)
            case ast.WindowOp(size=size, every=every):
                return self._window(size, every, record)
            case ast.AggregateOp(keys=keys, items=items):
                return self.aggregate(keys, items, record, isinstance(previous, ast.WindowOp), line)
            case ast.DedupeOp(keys=keys):
                for key in keys:
                    self.field(key, record, where)
                return record
            case ast.JoinOp(stream=stream, on=on):
                return self._join(stream, on, record, where, line)
            case ast.LookupOp(table=table, on=on):
                return self._lookup(table, on, record, where, line)
            case ast.LateOp(sink=sink) | ast.IntoOp(sink=sink):
                if self._sink(sink):
                    self.written.add(sink.text)
                return record
            case ast.PluginOp():
                self.plugin_operator(op)
                return RecordType()
        raise TypeError(f"unknown operator {op!r}")

    def _select(
        self, items: tuple[ast.SelectItem, ...], record: RecordType, where: str, line: str
    ) -> RecordType:
        fields: dict[str, TypeSpec] = {}
        for item in items:
            if item.value is None:
                self.field(item.name, record, where)
                fields[item.name.text] = (record.fields or {}).get(
                    item.name.text, TypeSpec("any", True)
                )
            else:
                fields[item.name.text] = spec_of(self.expr(item.value, _Scope(record, where)))
        return RecordType(fields, line)

    def _drop(
        self, names: tuple[ast.Ident, ...], record: RecordType, where: str, line: str
    ) -> RecordType:
        for name in names:
            self.field(name, record, where)
        if record.fields is None:
            return record
        dropped = {n.text for n in names}
        return RecordType({k: v for k, v in record.fields.items() if k not in dropped}, line)

    def _explode(
        self, field: ast.Ident, into: ast.Ident | None, record: RecordType, where: str, line: str
    ) -> RecordType:
        if not self.field(field, record, where):
            return record
        spec = (record.fields or {}).get(field.text)
        if spec is not None and spec.name not in ("list", "any"):
            self.report(
                error(
                    "E0301",
                    f"`explode` needs a list, `{field.text}` is {describe(spec.name)}",
                    field.span,
                )
            )
        item = spec.item if spec is not None and spec.item else TypeSpec("any", True)
        target = (into or field).text
        return record.with_fields({target: item}, line)

    def _event_time(self, field: ast.Ident, record: RecordType, where: str) -> RecordType:
        if self.field(field, record, where):
            t = record.field_type(field.text)
            if t not in ("int", "str", "any"):
                self.report(
                    error(
                        "E0301",
                        f"event time must be epoch milliseconds (int) "
                        f"or an ISO-8601 string; `{field.text}` is "
                        f"{describe(t)}",
                        field.span,
                    )
                )
        return record

    def _window(
        self, size: ast.Duration, every: ast.Duration | None, record: RecordType
    ) -> RecordType:
        if size.ms <= 0:
            self.report(error("E0503", "a window must last longer than 0", size.span))
        if every is not None and not 0 < every.ms <= size.ms:
            self.report(
                error(
                    "E0503",
                    "a sliding window's step must be positive and at most its size",
                    every.span,
                )
            )
        return record

    def _join(
        self, stream: ast.Ident, on: ast.Ident, record: RecordType, where: str, line: str
    ) -> RecordType:
        right = self.stream_type(stream)
        self.field(on, record, where)
        if right is None:
            return RecordType()
        self.field(on, right, f"{where} (stream `{stream.text}`)")
        if record.fields is None or right.fields is None:
            return RecordType()
        merged = dict(record.fields)
        for field_name, spec in right.fields.items():
            merged[f"{stream.text}_{field_name}" if field_name in merged else field_name] = spec
        return RecordType(merged, line)

    def _lookup(
        self, table: ast.Ident, on: ast.Ident, record: RecordType, where: str, line: str
    ) -> RecordType:
        self.field(on, record, where)
        if table.text not in self.c.tables:
            close = did_you_mean(table.text, self.c.tables)
            label = f"did you mean `{close}`?" if close else "no such table"
            self.report(error("E0114", f"unknown table `{table.text}`", table.span, label))
            return RecordType()
        decl, _ = self.c.tables[table.text]
        schema = self.c.schemas.get(decl.schema.text) if decl.schema else None
        if schema is None or record.fields is None:
            return RecordType()
        extra = {f.name: TypeSpec(f.type.name, True, f.type.item) for f in schema.fields}
        return record.with_fields(extra, line)

    def _sink(self, ident: ast.Ident) -> bool:
        problem = unknown_sink(self.c, ident)
        if problem is not None:
            self.report(problem)
        return problem is None

    def field(self, ident: ast.Ident, record: RecordType, where: str) -> bool:
        """Whether the record may have this field; reports it when it cannot."""
        if record.fields is None or ident.text in record.fields:
            return True
        self.report(self._unknown_field(ident.text, ident.span, record, where))
        return False

    def _unknown_field(self, name: str, span, record: RecordType, where: str) -> Diagnostic:
        assert record.fields is not None
        close = did_you_mean(name, record.fields)
        origin = f" ({record.origin})" if record.origin else ""
        if close:
            return error(
                "E0202",
                f"unknown field `{name}` in {where}",
                span,
                f"did you mean `{close}`?{origin}",
            )
        fields = ", ".join(record.fields) or "none"
        return error(
            "E0202",
            f"unknown field `{name}` in {where}",
            span,
            "not a field of the record",
            f"fields{origin}: {fields}",
        )

    def aggregate(
        self,
        keys: tuple[ast.Ident, ...],
        items: tuple[ast.Assignment, ...],
        record: RecordType,
        windowed: bool,
        line: str,
    ) -> RecordType:
        where = "`aggregate`"
        fields: dict[str, TypeSpec] = {}
        for key in keys:
            self.field(key, record, where)
            fields[key.text] = (record.fields or {}).get(key.text, TypeSpec("any", True))
        if windowed:
            fields["window_start"] = fields["window_end"] = TypeSpec("int")
        scope = _Scope(record, where, aggregates=True, keys=frozenset(k.text for k in keys))
        for item in items:
            if item.name.text in fields:
                self.report(
                    error(
                        "E0504",
                        f"`{item.name.text}` is already a field of the aggregate's output",
                        item.name.span,
                    )
                )
            fields[item.name.text] = spec_of(self.expr(item.value, scope))
        return RecordType(fields, line)

    def plugin_operator(self, op: ast.PluginOp) -> None:
        spec = self.c.registry.get("operator", op.name.text)
        if spec is None:
            known = self.c.registry.names("operator") + list(_OPERATOR_NAMES.values())
            close = did_you_mean(op.name.text, known, typo_only=True)
            self.report(_unknown_call("operator", op.name, close))
            return
        if op.args:
            self.report(
                error(
                    "E0402",
                    f"operator `{op.name.text}` takes keyword arguments only",
                    op.args[0].span,
                    "write `name=value`",
                )
            )
        if op.concurrency is not None and op.concurrency < 1:
            self.report(
                error(
                    "E0407", "`concurrency` must be at least 1", op.span, f"found {op.concurrency}"
                )
            )
        params = {p.name: p for p in spec.params}
        seen: set[str] = set()
        for kw in op.kwargs:
            self._plugin_argument(op, kw, params, seen)
        given = {kw.name.text for kw in op.kwargs}
        for param in spec.params:
            if param.required and param.name not in given:
                self.report(
                    error(
                        "E0405",
                        f"operator `{op.name.text}` needs argument `{param.name}`",
                        op.span,
                        f"missing `{param.name}`",
                    )
                )

    def _plugin_argument(
        self, op: ast.PluginOp, kw: ast.KeywordArg, params: dict[str, Param], seen: set[str]
    ) -> None:
        """One `name=value` of a plugin operator: a known parameter, given once, a constant of
        the parameter's type (the planner hands it over once, before any record)."""
        name = kw.name.text
        if name in seen:
            what = f"argument `{name}` of operator `{op.name.text}` given twice"
            self.report(error("E0404", what, kw.name.span))
            return
        seen.add(name)
        param = params.get(name)
        if param is None:
            close = did_you_mean(name, params)
            label = f"did you mean `{close}`?" if close else "no such argument"
            self.report(
                error(
                    "E0403",
                    f"unknown argument `{name}` for operator `{op.name.text}`",
                    kw.name.span,
                    label,
                    "it takes: " + ", ".join(params),
                )
            )
            return
        what = f"argument `{name}` of operator `{op.name.text}`"
        try:
            value = evaluate(kw.value, self.c.params, what, self.c.env)
        except NotConstant as e:
            self.report(e.diagnostic)
            return
        constant = ast.Literal(value=value, kind=kind_of(value), span=kw.value.span)
        self.argument(constant, param.annotation, _Scope(RecordType(), "operator arguments"), what)

    # -- expressions -----------------------------------------------------------------------------

    def argument(self, expr: ast.Expr, annotation, scope: _Scope, what: str) -> None:
        t = self.expr(expr, scope)
        accepted = annotation_types(annotation)
        if t in ("any", "null") or "any" in accepted or t in accepted:
            return
        wanted = " or ".join(sorted(accepted - {"null"})) or "null"
        self.report(error("E0302", f"{what} expects {wanted}, found {describe(t)}", expr.span))

    def expr(self, expr: ast.Expr, scope: _Scope) -> str:  # noqa: C901 (one case per kind)
        """The expression's type; reports what is wrong inside it."""
        match expr:
            case ast.Literal(kind=kind):
                return "int" if kind == "duration" else kind
            case ast.NameRef():
                return self.name(expr, scope)
            case ast.This():
                return "record"
            case ast.FieldAccess():
                return self._field_access(expr, scope)
            case ast.IndexAccess():
                return self._index_access(expr, scope)
            case ast.CallExpr():
                return self.call(expr, scope)
            case ast.UnaryExpr(op="not", operand=operand):
                self.expr(operand, scope)
                return "bool"
            case ast.UnaryExpr(op="-", operand=operand):
                t = self.expr(operand, scope)
                if t not in (*NUMERIC, "any", "null"):
                    self.report(error("E0301", f"cannot negate {describe(t)}", expr.span))
                    return "any"
                return t
            case ast.BinaryExpr():
                return self.binary(expr, scope)
            case ast.MatchExpr():
                return self._match(expr, scope)
            case ast.IfExpr(cond=cond, then=then, other=other):
                self.expr(cond, scope)
                return join(self.expr(then, scope), self.expr(other, scope))
            case ast.ListExpr(items=items):
                for item in items:
                    self.expr(item, scope)
                return "list"
            case ast.RecordExpr(items=items):
                for entry in items:
                    self.expr(entry.value, scope)
                return "record"
        raise TypeError(f"unknown expression {expr!r}")

    def _field_access(self, expr: ast.FieldAccess, scope: _Scope) -> str:
        t = self.expr(expr.target, scope)
        if t not in ("record", "any", "null"):
            what = f"cannot read field `{expr.name.text}` of {describe(t)}"
            self.report(error("E0303", what, expr.span))
        return "any"

    def _index_access(self, expr: ast.IndexAccess, scope: _Scope) -> str:
        t, k = self.expr(expr.target, scope), self.expr(expr.key, scope)
        if t not in ("record", "list", "str", "any", "null"):
            self.report(error("E0303", f"cannot index {describe(t)}", expr.span))
        if t in ("list", "str") and k not in ("int", "any", "null"):
            what = f"a {t} index must be an int, found {describe(k)}"
            self.report(error("E0303", what, expr.key.span))
        return "str" if t == "str" else "any"

    def _match(self, expr: ast.MatchExpr, scope: _Scope) -> str:
        t = self.expr(expr.operand, scope)
        if t not in ("str", "any", "null"):
            what = f"`=~` matches text, found {describe(t)}"
            self.report(error("E0301", what, expr.operand.span))
        refused = regex_problem(expr.pattern.value)
        if refused is not None:
            self.report(
                error("E0304", refused.message, expr.pattern.span, refused.label, *refused.hints)
            )
        return "bool"

    def name(self, ref: ast.NameRef, scope: _Scope) -> str:
        name = ref.name
        record = scope.record
        if name in self.c.params:
            if record.fields is not None and name in record.fields:
                self.report(
                    warning(
                        "W0004",
                        f"`{name}` is both a param and a field; the param is used here",
                        ref.span,
                        "the param",
                        f'read the field as `this["{name}"]`, or rename the param',
                    )
                )
            value = self.c.params[name]
            return {
                bool: "bool",
                int: "int",
                float: "float",
                str: "str",
                list: "list",
                dict: "record",
                type(None): "null",
            }.get(type(value), "any")
        if scope.keys is not None and name not in scope.keys and scope.aggregates:
            self.report(
                error(
                    "E0505",
                    f"field `{name}` must be inside an aggregate or be a key of `by`",
                    ref.span,
                    "not grouped",
                    f"for example `first({name})`",
                )
            )
            return "any"
        if record.fields is not None and name not in record.fields:
            self.report(self._unknown_field(name, ref.span, record, scope.where))
            return "any"
        return record.field_type(name)

    def binary(self, expr: ast.BinaryExpr, scope: _Scope) -> str:
        op = expr.op
        left, right = self.expr(expr.left, scope), self.expr(expr.right, scope)
        if op in ("and", "or"):
            return "bool"
        if op == "??":
            return join(left, right) if left != "null" else right
        if op in ("in", "not_in"):
            if right not in ("list", "record", "str", "any", "null"):
                self.report(
                    error(
                        "E0301",
                        f"`in` needs a list, record or string on its right, "
                        f"found {describe(right)}",
                        expr.right.span,
                    )
                )
            return "bool"
        if op in ("==", "!=", "<", "<=", ">", ">="):
            if not comparable(op, left, right):
                self.report(
                    error(
                        "E0301",
                        f"cannot compare {describe(left)} with {describe(right)}",
                        expr.span,
                        f"`{op}` between these is always false"
                        if op in ("==", "!=")
                        else "they have no order between them",
                    )
                )
            return "bool"
        result = arithmetic(op, left, right)
        if result is None:
            self.report(
                error(
                    "E0301",
                    f"cannot apply `{op}` to {describe(left)} and {describe(right)}",
                    expr.span,
                )
            )
            return "any"
        return result

    def call(self, call: ast.CallExpr, scope: _Scope) -> str:
        name = call.name.text
        registry = self.c.registry
        aggregate = registry.get("aggregate", name)
        if aggregate is not None:
            if scope.in_aggregate:
                self.report(
                    error(
                        "E0506",
                        f"aggregate `{name}` inside another aggregate",
                        call.span,
                        "aggregates cannot be nested",
                        "aggregate the field itself, or aggregate again in a second "
                        "`aggregate` downstream",
                    )
                )
                return "any"
            if not scope.aggregates:
                self.report(
                    error(
                        "E0506",
                        f"aggregate `{name}` is only allowed inside `aggregate {{ ... }}`",
                        call.span,
                        "not allowed here",
                        "aggregates belong in `aggregate { ... }`",
                    )
                )
                return "any"
            inner = _Scope(scope.record, scope.where, in_aggregate=True)
            self.arguments(call, aggregate.params, inner, f"aggregate `{name}`")
            return annotation_type(aggregate.returns)
        function = registry.get("function", name)
        if function is None:
            close = did_you_mean(
                name, registry.names("function") + registry.names("aggregate"), typo_only=True
            )
            if name == "env":  # read once, at check time: only where a constant goes
                self.report(
                    error(
                        "E0401",
                        f"unknown function `{name}`",
                        call.name.span,
                        "`env` is read where a constant goes, not per record",
                        'declare `param NAME = env("...")` and use the param here',
                    )
                )
            else:
                self.report(_unknown_call("function", call.name, close))
            for value in [*call.args, *(kw.value for kw in call.kwargs)]:
                self.expr(value, scope)
            return "any"
        self.arguments(call, function.params, scope, f"function `{name}`")
        return annotation_type(function.returns)

    def arguments(self, call: ast.CallExpr, params, scope: _Scope, what: str) -> None:
        if len(call.args) > len(params):
            self.report(
                error(
                    "E0402",
                    f"{what} takes at most {len(params)} arguments, found {len(call.args)}",
                    call.args[len(params)].span,
                )
            )
            for extra in call.args[len(params) :]:
                self.expr(extra, scope)
        given = set()
        for param, arg in zip(params, call.args):
            given.add(param.name)
            self.argument(arg, param.annotation, scope, f"argument `{param.name}` of {what}")
        by_name = {p.name: p for p in params}
        for kw in call.kwargs:
            param = by_name.get(kw.name.text)
            if param is None:
                close = did_you_mean(kw.name.text, by_name)
                label = f"did you mean `{close}`?" if close else "no such argument"
                self.report(
                    error(
                        "E0403",
                        f"unknown argument `{kw.name.text}` for {what}",
                        kw.name.span,
                        label,
                    )
                )
                self.expr(kw.value, scope)
                continue
            if param.name in given:
                self.report(
                    error("E0404", f"argument `{param.name}` of {what} given twice", kw.name.span)
                )
            given.add(param.name)
            self.argument(kw.value, param.annotation, scope, f"argument `{param.name}` of {what}")
        for param in params:
            if param.required and param.name not in given:
                self.report(
                    error(
                        "E0405",
                        f"{what} needs argument `{param.name}`",
                        call.span,
                        f"missing `{param.name}`",
                    )
                )


def _unknown_call(kind: str, name: ast.Ident, close: str | None) -> Diagnostic:
    """A function or operator nobody provides: a typo gets its fix; any other name is most
    likely a plugin's that this pipeline cannot see yet, and the hint says how it would."""
    message = f"unknown {kind} `{name.text}`"
    if close is not None:
        return error("E0401", message, name.span, f"did you mean `{close}`?")
    return error(
        "E0401",
        message,
        name.span,
        "no installed or `use`d plugin provides it",
        f'a plugin\'s {kind}s come with `use "path/to/plugin.py"` or by installing its '
        "package; `rillet plugins FILE` lists those available",
    )
