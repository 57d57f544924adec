"""Checking flows: where each flow reads from and writes to, and the fields and types of the
records at every operator.

Record types follow the flow: a schema fixes the fields at the source, `select` and `aggregate`
fix new ones, `derive` adds, `drop` removes. Where fields are known, a name that is not one of
them (nor a `param`) is an error with the closest field as a hint; where they are not (no schema),
any field may exist and reads as null when missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rillet.runtime.plan import TypeSpec

from . import ast
from .diagnostic import Diagnostic, Report, did_you_mean, error, warning
from .endless import endless_inputs, first_endless
from .exprcheck import Scope
from .hybridcheck import parts_of
from .joincheck import JoinChecker
from .pluginopcheck import OPERATOR_NAMES
from .sinkfields import sink_field_problems
from .streamorder import flow_streams
from .topcheck import TopChecker
from .types import (
    RecordType,
    describe,
    join,
    source_type,
    spec_of,
)

if TYPE_CHECKING:
    from .checked import Draft


def unknown_sink(checked: Draft, ident: ast.Ident) -> Diagnostic | None:
    """The error for a sink name that is not declared, if it is not."""
    if ident.text in checked.sinks:
        return None
    close = did_you_mean(ident.text, checked.sinks)
    label = f"did you mean `{close}`?" if close else "no such sink"
    return error("E0110", f"unknown sink `{ident.text}`", ident.span, label)


_FILLS = ast.AggregateOp | ast.TopOp
"""What may follow a `window`; the event time ends at either (their rows are new records)."""


def _unfilled(window: ast.WindowOp) -> Diagnostic:
    return error(
        "E0502",
        "`window` must be followed by `aggregate` or `top`",
        window.span,
        "a window needs an aggregate or a top to fill",
    )


def _agreed(times: list[ast.EventTimeOp | None]) -> ast.EventTimeOp | None:
    """The event time after a `union`: its inputs' when they all have the same field and
    lateness, else none."""
    kinds = {
        None if t is None else (t.field.text, t.lateness.ms if t.lateness else 0) for t in times
    }
    return times[0] if len(kinds) == 1 else None


class FlowChecker(TopChecker, JoinChecker):
    def __init__(self, checked: Draft, report: Report) -> None:
        super().__init__(checked, report)
        self.types: dict[str, RecordType | None] = {}
        # source or stream name -> the `event_time` in effect at its output
        self.times: dict[str, ast.EventTimeOp | None] = {}
        self.read: set[str] = set()
        self.written: set[str] = set()
        self.endless: dict[str, str] = {}  # source or stream name -> a source that never ends

    def run(self) -> None:
        c = self.c
        for name, (decl, _) in c.sources.items():
            schema = c.schemas.get(decl.schema.text) if decl.schema else None
            added: dict[str, Any] = {}  # of every part: a field is null where a part lacks it
            for call, config in parts_of(c, name):
                spec = c.registry.get("source", call.name.text)
                added |= spec.added_fields(config) if spec is not None else {}
            self.types[name] = source_type(schema, added, decl.call.name.text)
        self.endless = endless_inputs(c, undeclared=False)
        for name in c.stream_order:
            self.types[name], self.times[name] = self.flow(c.streams[name].flow)
        c.stream_times.update(self.times)
        c.stream_types.update(self.types)
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
        self.unbounded_joins()
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
            time = _agreed([self.times.get(s.text) for s in flow.head.streams])
        if record is None:
            return None, None
        endless = first_endless(flow_streams(flow), self.endless)
        previous: ast.Operator | None = None
        for op in flow.ops:
            self.c.times[op] = time
            timed = ast.WindowOp | ast.DedupeOp | ast.JoinOp | ast.RollingOp
            if isinstance(op, timed) and time is not None:
                self._event_time_field(op, time, record)
            if isinstance(op, ast.LateOp) and not isinstance(previous, _FILLS | ast.RollingOp):
                self.report(
                    error(
                        "E0501",
                        "`late into` must come right after `aggregate`, `rolling` or `top`",
                        op.span,
                        "not after an aggregate, a rolling or a top",
                    )
                )
            if isinstance(previous, ast.WindowOp) and not isinstance(op, _FILLS | ast.EmitOp):
                self.report(_unfilled(previous))
            record = self.operator(op, record, previous, endless)
            self.c.types[op] = record
            previous = op
            if isinstance(op, ast.EventTimeOp):
                time = op
            elif isinstance(op, _FILLS):
                time = None
        if isinstance(previous, ast.WindowOp):
            self.report(_unfilled(previous))
        return record, time

    def _event_time_field(
        self, op: ast.Operator, time: ast.EventTimeOp, record: RecordType
    ) -> None:
        """Windows, `dedupe` and `join` read event time from the field `event_time` named;
        an error when the records here cannot have it any more."""
        name = time.field.text
        if record.fields is None or name in record.fields:
            return
        where = OPERATOR_NAMES[type(op)]
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
        self,
        op: ast.Operator,
        record: RecordType,
        previous: ast.Operator | None,
        endless: str | None,
    ) -> RecordType:
        """The records' type after `op`; `endless`: a source of the flow that never ends."""
        where = f"`{OPERATOR_NAMES.get(type(op), 'operator')}`"
        line = f"the {where} on line {op.span.line}"
        window = previous if isinstance(previous, ast.WindowOp) else None
        match op:
            case ast.WhereOp(cond=cond):
                self.expr(cond, Scope(record, where))
                return record
            case ast.SelectOp(items=items):
                return self._select(items, record, where, line)
            case ast.DeriveOp(items=items):
                for assignment in items:
                    t = self.expr(assignment.value, Scope(record, where))
                    record = record.with_fields({assignment.name.text: spec_of(t)}, line)
                return record
            case ast.DropOp(names=names):
                return self._drop(names, record, where, line)
            case ast.ExplodeOp(field=field, into=into):
                return self._explode(field, into, record, where, line)
            case ast.EventTimeOp(field=field):
                return self._event_time(field, record, where)
            case ast.WindowOp(size=size, every=every):
                self.emit_every(op)
                return self._window(size, every, record)
            case ast.AggregateOp(keys=keys, items=items):
                return self.aggregate(keys, items, record, window, line)
            case ast.TopOp():
                return self.top(op, record, window, endless, line)
            case ast.EmitOp():
                self.stray_emit(op, previous)
                return record
            case ast.RollingOp():
                return self.rolling(op, record, self.c.times[op], line)
            case ast.DedupeOp(keys=keys):
                for key in keys:
                    self.field(key, record, where)
                return record
            case ast.JoinOp(stream=stream):
                right = self.stream_type(stream), self.times.get(stream.text)
                return self.join(op, record, right, line)
            case ast.LookupOp(table=table, on=on):
                return self._lookup(table, on, record, where, line)
            case ast.LateOp(sink=sink) | ast.IntoOp(sink=sink):
                if self._sink(sink):
                    self.written.add(sink.text)
                    for problem in sink_field_problems(self.c, sink, record):
                        self.report(problem)
                return record
            case ast.PluginOp():
                return self.plugin_operator(op)
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
                fields[item.name.text] = spec_of(self.expr(item.value, Scope(record, where)))
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
