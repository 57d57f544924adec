"""A checked program to the plan IR (`rillet.runtime.plan`): one node per operator, in
topological order; names and params resolved to values; fields and expressions lowered; the
event time declared upstream (`event_time`) written into the windows, `rolling`, `dedupe` and
`join` that read it.

Only what reaches a sink is planned: a flow or stream that writes nowhere would compute for
nothing (the checker warns about it), and a source nobody reads is not opened.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from rillet.runtime import plan as ir

from . import ast, render
from .checked import Checked
from .sinkfields import records_schema
from .types import RecordType


def lower_expr(expr: ast.Expr, params: Mapping[str, Any]) -> ir.Expr:
    """An AST expression as IR: params become literals, field chains become paths."""
    match expr:
        case ast.Literal(value=value):
            return ir.Lit(value)
        case ast.NameRef(name=name):
            return ir.Lit(params[name]) if name in params else ir.Field((name,))
        case ast.This():
            return ir.Field(())
        case ast.FieldAccess(target=target, name=name):
            inner = lower_expr(target, params)
            if isinstance(inner, ir.Field):
                return ir.Field((*inner.path, name.text))
            return ir.Index(inner, ir.Lit(name.text))
        case ast.IndexAccess(target=target, key=key):
            inner, index = lower_expr(target, params), lower_expr(key, params)
            if (
                isinstance(inner, ir.Field)
                and isinstance(index, ir.Lit)
                and isinstance(index.value, str)
            ):
                return ir.Field((*inner.path, index.value))
            return ir.Index(inner, index)
        case ast.CallExpr(name=name, args=args, kwargs=kwargs):
            return ir.Call(
                name.text,
                tuple(lower_expr(a, params) for a in args),
                tuple((k.name.text, lower_expr(k.value, params)) for k in kwargs),
            )
        case ast.UnaryExpr(op=op, operand=operand):
            return ir.Unary(op, lower_expr(operand, params))
        case ast.BinaryExpr(op=op, left=left, right=right):
            return ir.Binary(op, lower_expr(left, params), lower_expr(right, params))
        case ast.MatchExpr(operand=operand, pattern=pattern):
            return ir.Match(lower_expr(operand, params), pattern.value)
        case ast.IfExpr(cond=cond, then=then, other=other):
            return ir.IfElse(
                lower_expr(cond, params), lower_expr(then, params), lower_expr(other, params)
            )
        case ast.ListExpr(items=items):
            return ir.ListOf(tuple(lower_expr(i, params) for i in items))
        case ast.RecordExpr(items=items):
            return ir.RecordOf(tuple((i.key, lower_expr(i.value, params)) for i in items))
    raise TypeError(f"unknown expression {expr!r}")


def _field(time: ast.EventTimeOp | None) -> str | None:
    return time.field.text if time is not None else None


def _window(window: ast.WindowOp | None) -> ir.Window | None:
    if window is None:
        return None
    every = window.every.ms if window.every else None
    if window.emit_every is None:
        return ir.Window(window.kind, window.size.ms, every)
    return ir.Window(window.kind, window.size.ms, every, window.emit_every.ms)


def _late_into(ops: list[ast.Operator], index: int) -> tuple[str | None, int]:
    """The sink of a `late into` at `ops[index]` (right after `aggregate` or `rolling`), and
    the index after it."""
    if index < len(ops) and isinstance(late := ops[index], ast.LateOp):
        return late.sink.text, index + 1
    return None, index


def _join(
    op: ast.JoinOp,
    left_time: ast.EventTimeOp | None,
    right_time: ast.EventTimeOp | None,
    right_type: RecordType | None,
) -> ir.Join:
    """A `join` as IR, written as a join of one key shared by both sides was before there
    were others (its checkpoints' fingerprint stays the same). A regular join (no `within`)
    reads no time; a left join knows the right's fields when its type does."""
    left = tuple(k.left.text for k in op.keys)
    right = tuple((k.right or k.left).text for k in op.keys)
    timed = op.within is not None
    join = ir.Join(
        op.stream.text,
        left[0] if len(left) == 1 else left,
        op.within.ms if op.within is not None else None,
        _field(left_time) if timed else None,
        _field(right_time) if timed else None,
        msgspec.UNSET if right == left else right,
    )
    if op.kind is None:
        return join
    fields = right_type.fields if right_type is not None else None
    known = tuple(fields) if fields is not None else None
    return msgspec.structs.replace(join, kind="left", right_fields=known)


class _Planner:
    def __init__(self, checked: Checked) -> None:
        self.c = checked
        self.nodes: list[ir.Node] = []
        self.outputs: dict[str, int] = {}  # source or stream name -> node id of its output
        self.sink_inputs: dict[str, list[int]] = {name: [] for name in checked.sinks}
        self.sink_types: dict[str, list[RecordType | None]] = {n: [] for n in checked.sinks}

    def add(
        self,
        op: ir.Op,
        inputs: tuple[int, ...],
        span: ir.Span | None,
        named: ast.Ident | None = None,
    ) -> int:
        node_id = len(self.nodes)
        name = named.text if named is not None else msgspec.UNSET
        self.nodes.append(ir.Node(node_id, op, inputs, span, name))
        return node_id

    def _sink_schema(self, name: str) -> ir.SchemaSpec | msgspec.UnsetType:
        """The records' type for a sink that asks for it (`Spec.typed`), when every input
        of the sink is a flow's `into` with the same known type (not `late into`, nor errors)."""
        decl, _ = self.c.sinks[name]
        spec = self.c.registry.written("sink", decl.call.name.text)
        types = self.sink_types[name]
        if spec is None or not spec.typed or name == self.c.error_sink:
            return msgspec.UNSET
        if len(types) != len(self.sink_inputs[name]):
            return msgspec.UNSET
        return records_schema(f"into {name}", types) or msgspec.UNSET

    def plan(self, file: str, base_dir: Path) -> ir.Plan:
        c = self.c
        for name, (decl, config) in c.sources.items():
            schema = c.schemas.get(decl.schema.text) if decl.schema else None
            then = tuple(
                ir.SourcePart(call.name.text, part)
                for call, part in zip(decl.then, c.source_parts.get(name, ()), strict=True)
            )
            after = decl.after.text if decl.after is not None else msgspec.UNSET
            op = ir.Source(name, decl.call.name.text, config, schema, then or msgspec.UNSET, after)
            self.outputs[name] = self.add(op, (), decl.span)
        for name in c.stream_order:
            self.outputs[name] = self.flow(c.streams[name].flow)
        for flow in c.flows:
            self.flow(flow)
        sink_ids: dict[str, int] = {}
        for name, (sink, config) in c.sinks.items():
            op = ir.Sink(name, sink.call.name.text, config, self._sink_schema(name))
            sink_ids[name] = self.add(op, tuple(self.sink_inputs[name]), sink.span)
        error_sink = sink_ids.get(c.error_sink) if c.error_sink else None
        full = ir.Plan(tuple(self.nodes), c.settings, error_sink, file, str(base_dir))
        return msgspec.structs.replace(
            prune(full),
            plugins=c.plugins,
            alerts=tuple(map(alert, c.alerts)),
            secrets=dict(c.env.secrets),
        )

    def flow(self, flow: ast.Flow) -> int:
        """Plans the flow's operators; its output node. The event time each operator reads by
        is the one the checker found in effect there (`Checked.times`)."""
        if isinstance(flow.head, ast.Ident):
            current = self.outputs[flow.head.text]
        else:
            names = [s.text for s in flow.head.streams]
            current = self.add(ir.Union(), tuple(self.outputs[n] for n in names), flow.head.span)
        times, params = self.c.times, self.c.params
        ops = list(flow.ops)
        index = 0
        while index < len(ops):
            op = ops[index]
            index += 1
            match op:
                case ast.IntoOp(sink=sink):
                    self.sink_inputs[sink.text].append(current)
                    self.sink_types[sink.text].append(self.c.types.get(op))
                    continue
                case ast.WindowOp() | ast.AggregateOp() | ast.TopOp():
                    window = op if isinstance(op, ast.WindowOp) else None
                    time = times[op]
                    if window is not None:
                        op = ops[index]
                        index += 1
                    late, index = _late_into(ops, index)
                    lowered = (
                        self.top(op, window, late, time)
                        if isinstance(op, ast.TopOp)
                        else self.aggregate(op, window, late, time)
                    )
                    current = self.add(lowered, (current,), (window or op).span, op.named)  # type: ignore[union-attr]
                    continue
                case ast.RollingOp():
                    late, index = _late_into(ops, index)
                    rolling = self.rolling(op, late, times[op])
                    current = self.add(rolling, (current,), op.span, op.named)
                    continue
                case ast.JoinOp(stream=stream):
                    right = self.outputs[stream.text]
                    right_side = (
                        self.c.stream_times.get(stream.text),
                        self.c.stream_types.get(stream.text),
                    )
                    join = _join(op, times[op], *right_side)
                    current = self.add(join, (current, right), op.span, op.named)
                    continue
                case ast.DedupeOp(keys=keys, within=within):
                    dedupe = ir.Dedupe(tuple(k.text for k in keys), within.ms, _field(times[op]))
                    current = self.add(dedupe, (current,), op.span, op.named)
                    continue
            current = self.add(
                self.simple(op, params), (current,), op.span, getattr(op, "named", None)
            )
        return current

    def aggregate(
        self,
        op: ast.Operator,
        window: ast.WindowOp | None,
        late: str | None,
        time: ast.EventTimeOp | None,
    ) -> ir.Aggregate:
        assert isinstance(op, ast.AggregateOp)
        params = self.c.params
        fields = tuple(ir.Assign(a.name.text, lower_expr(a.value, params)) for a in op.items)
        return ir.Aggregate(
            tuple(k.text for k in op.keys),
            fields,
            _window(window),
            late,
            _field(time),
            time.lateness.ms if time is not None and time.lateness else 0,
        )

    def top(
        self,
        op: ast.TopOp,
        window: ast.WindowOp | None,
        late: str | None,
        time: ast.EventTimeOp | None,
    ) -> ir.Top:
        return ir.Top(
            tuple(k.text for k in op.per),
            tuple(ir.Order(i.field.text, i.descending) for i in op.order),
            op.count.value,
            _window(window),
            late,
            _field(time),
            time.lateness.ms if time is not None and time.lateness else 0,
        )

    def rolling(
        self, op: ast.RollingOp, late: str | None, time: ast.EventTimeOp | None
    ) -> ir.Rolling:
        assert time is not None  # the check requires it
        params = self.c.params
        return ir.Rolling(
            tuple(k.text for k in op.keys),
            tuple(ir.Assign(a.name.text, lower_expr(a.value, params)) for a in op.items),
            time.field.text,
            op.within.ms if op.within is not None else None,
            op.last.value if op.last is not None else None,
            late,
            time.lateness.ms if time.lateness else 0,
        )

    def simple(self, op: ast.Operator, params: Mapping[str, Any]) -> ir.Op:
        match op:
            case ast.WhereOp(cond=cond):
                return ir.Where(lower_expr(cond, params))
            case ast.SelectOp(items=items):
                return ir.Select(
                    tuple(
                        ir.Assign(
                            i.name.text,
                            lower_expr(i.value, params)
                            if i.value is not None
                            else ir.Field((i.name.text,)),
                        )
                        for i in items
                    )
                )
            case ast.DeriveOp(items=items):
                return ir.Derive(
                    tuple(ir.Assign(i.name.text, lower_expr(i.value, params)) for i in items)
                )
            case ast.DropOp(names=names):
                return ir.Drop(tuple(n.text for n in names))
            case ast.ExplodeOp(field=field, into=into):
                return ir.Explode(field.text, (into or field).text)
            case ast.EventTimeOp(field=field, lateness=lateness, idle=idle):
                return ir.EventTime(
                    field.text, lateness.ms if lateness else 0, idle.ms if idle else None
                )
            case ast.LookupOp(table=table, on=on):
                decl, config = self.c.tables[table.text]
                schema = self.c.schemas.get(decl.schema.text) if decl.schema else None
                return ir.Lookup(ir.Table(table.text, decl.call.name.text, config, schema), on.text)
            case ast.PluginOp(name=name, concurrency=concurrency):
                values = dict(self.c.plugin_arguments.get(op, {}))
                return ir.PluginOperator(name.text, values, concurrency)
        raise TypeError(f"cannot plan {op!r}")


def alert(decl: ast.AlertDecl) -> ir.Alert:
    """An alert in the IR: the threshold in its measure's unit, the condition as written."""
    hold_ms = decl.hold.ms if decl.hold else 0
    condition = f"{decl.measure.text} {decl.op} {decl.threshold.text}"
    if decl.hold:
        condition += f" for {render.duration(hold_ms)}"
    return ir.Alert(
        decl.name.text,
        decl.measure.text,
        decl.op,
        decl.threshold.value,
        hold_ms,
        condition,
        decl.span,
    )


def prune(plan: ir.Plan) -> ir.Plan:
    """Keep the nodes that lead to a sink; the error sink stays while any producer remains.

    An aggregate or rolling with `late into` writes to its late sink by name, not through an
    edge: it counts as writing to a sink, and keeps that sink in the plan."""
    consumers: dict[int, list[int]] = {n.id: [] for n in plan.nodes}
    sink_ids: dict[str, int] = {}
    for n in plan.nodes:
        for i in n.inputs:
            consumers[i].append(n.id)
        if isinstance(n.op, ir.Sink):
            sink_ids[n.op.name] = n.id
    useful: set[int] = set()
    for n in reversed(plan.nodes):
        late = ir.late_sink(n.op) is not None
        if (
            (isinstance(n.op, ir.Sink) and n.inputs)
            or late
            or any(c in useful for c in consumers[n.id])
        ):
            useful.add(n.id)
    for n in plan.nodes:
        late_sink = ir.late_sink(n.op)
        if n.id in useful and late_sink is not None:
            useful.add(sink_ids[late_sink])
    if plan.error_sink is not None and useful:
        useful.add(plan.error_sink)
    renumber = {old: new for new, old in enumerate(sorted(useful))}
    nodes = tuple(
        ir.Node(renumber[n.id], n.op, tuple(renumber[i] for i in n.inputs), n.span, n.name)
        for n in plan.nodes
        if n.id in useful
    )
    error_sink = renumber.get(plan.error_sink) if plan.error_sink is not None else None
    return ir.Plan(nodes, plan.settings, error_sink, plan.file, plan.base_dir)


def plan(checked: Checked, file: str, base_dir: Path) -> ir.Plan:
    return _Planner(checked).plan(file, base_dir)
