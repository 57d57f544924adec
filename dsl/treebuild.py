"""Lark's parse tree to the syntax tree (`ast`): one method per grammar rule of a declaration or
an operator, every node with its span; expressions and literals are built by `exprtree.py`."""

from __future__ import annotations

import math
from fractions import Fraction

import msgspec
from lark import Token, v_args

from . import ast
from .exprtree import ExpressionTree, ident, span_of, token_span


@v_args(meta=True)
class ToAst(ExpressionTree):
    """Lark tree to `ast` nodes: declarations, flows and operators."""

    def start(self, meta, items):
        return ast.Program(statements=tuple(items))

    # declarations
    def param_decl(self, meta, items):
        return ast.ParamDecl(name=ident(items[0]), value=items[1], span=span_of(meta))

    def set_decl(self, meta, items):
        return ast.SetDecl(name=ident(items[0]), value=items[1], span=span_of(meta))

    def dotted_name(self, meta, items):
        return ".".join(str(t) for t in items)

    def use_decl(self, meta, items):
        (target,) = items
        if isinstance(target, Token):
            return ast.UseDecl(target=self._string(target), is_path=True, span=span_of(meta))
        return ast.UseDecl(target=target, is_path=False, span=span_of(meta))

    def schema_decl(self, meta, items):
        name, *fields = items
        return ast.SchemaDecl(
            name=ident(name), fields=tuple(f for f in fields if f is not None), span=span_of(meta)
        )

    def field_decl(self, meta, items):
        return ast.FieldDecl(name=ident(items[0]), type=items[1], span=span_of(meta))

    def type_expr(self, meta, items):
        name, item, optional = items
        return ast.TypeExpr(
            name=ident(name), item=item, optional=optional is not None, span=span_of(meta)
        )

    def connector_call(self, meta, items):
        name, arguments = items
        args, kwargs = arguments or ((), ())
        return ast.ConnectorCall(name=ident(name), args=args, kwargs=kwargs, span=span_of(meta))

    def source_decl(self, meta, items):
        name, schema, call, *then, after = items
        return ast.SourceDecl(
            name=ident(name),
            schema=schema and ident(schema),
            call=call,
            then=tuple(then),
            after=after,
            span=span_of(meta),
        )

    def hybrid_after(self, meta, items):
        return ident(items[0])

    def table_decl(self, meta, items):
        name, schema, call = items
        return ast.TableDecl(
            name=ident(name), schema=schema and ident(schema), call=call, span=span_of(meta)
        )

    def sink_decl(self, meta, items):
        return ast.SinkDecl(name=ident(items[0]), call=items[1], span=span_of(meta))

    def errors_decl(self, meta, items):
        return ast.ErrorsDecl(sink=ident(items[0]), span=span_of(meta))

    def stream_decl(self, meta, items):
        return ast.StreamDecl(name=ident(items[0]), flow=items[1], span=span_of(meta))

    def flow(self, meta, items):
        head, *ops = items
        return ast.Flow(head=head, ops=tuple(ops), span=span_of(meta))

    def stream_ref(self, meta, items):
        return ident(items[0])

    def union(self, meta, items):
        return ast.UnionHead(streams=tuple(items), span=span_of(meta))

    # operators
    def step(self, meta, items):
        op, name = items
        return op if name is None else msgspec.structs.replace(op, named=ident(name))

    def where_op(self, meta, items):
        return ast.WhereOp(cond=items[0], span=span_of(meta))

    def select_op(self, meta, items):
        return ast.SelectOp(items=tuple(items), span=span_of(meta))

    def select_item(self, meta, items):
        return ast.SelectItem(name=ident(items[0]), value=items[1], span=span_of(meta))

    def derive_op(self, meta, items):
        return ast.DeriveOp(items=tuple(items), span=span_of(meta))

    def assignment(self, meta, items):
        return ast.Assignment(name=ident(items[0]), value=items[1], span=span_of(meta))

    def drop_op(self, meta, items):
        return ast.DropOp(names=tuple(ident(t) for t in items), span=span_of(meta))

    def explode_op(self, meta, items):
        field, into = items
        return ast.ExplodeOp(field=ident(field), into=into and ident(into), span=span_of(meta))

    def event_time_op(self, meta, items):
        field, lateness, idle = items
        return ast.EventTimeOp(
            field=ident(field),
            lateness=lateness and self._duration(lateness),
            idle=idle and self._duration(idle),
            span=span_of(meta),
        )

    def window_op(self, meta, items):
        (kind, size, every), emit = items
        emit_every = emit and self._duration(emit)
        return ast.WindowOp(
            kind=kind, size=size, every=every, emit_every=emit_every, span=span_of(meta)
        )

    def emit_op(self, meta, items):
        return ast.EmitOp(every=self._duration(items[0]), span=span_of(meta))

    def tumbling(self, meta, items):
        return ("tumbling", self._duration(items[0]), None)

    def sliding(self, meta, items):
        return ("sliding", self._duration(items[0]), self._duration(items[1]))

    def session(self, meta, items):
        return ("session", self._duration(items[0]), None)

    def aggregate_op(self, meta, items):
        keys = tuple(ident(t) for t in items if isinstance(t, Token))
        assigns = tuple(i for i in items if isinstance(i, ast.Assignment))
        return ast.AggregateOp(keys=keys, items=assigns, span=span_of(meta))

    def rolling_op(self, meta, items):
        size, *rest = items
        keys = tuple(ident(t) for t in rest if isinstance(t, Token))
        assigns = tuple(i for i in rest if isinstance(i, ast.Assignment))
        within = self._duration(size) if size.type == "DURATION" else None
        last = None
        if within is None:
            last = ast.Literal(value=self._int(size), kind="int", span=token_span(size))
        return ast.RollingOp(within=within, last=last, keys=keys, items=assigns, span=span_of(meta))

    def top_op(self, meta, items):
        count, *rest = items
        return ast.TopOp(
            count=ast.Literal(value=self._int(count), kind="int", span=token_span(count)),
            order=tuple(i for i in rest if isinstance(i, ast.OrderItem)),
            per=tuple(ident(t) for t in rest if isinstance(t, Token)),
            span=span_of(meta),
        )

    def order_item(self, meta, items):
        name, direction = items
        descending = direction is None or direction.type == "DESC"
        return ast.OrderItem(field=ident(name), descending=descending, span=span_of(meta))

    def dedupe_op(self, meta, items):
        *keys, within = items
        return ast.DedupeOp(
            keys=tuple(ident(k) for k in keys), within=self._duration(within), span=span_of(meta)
        )

    def join_op(self, meta, items):
        kind, stream, *keys, within = items
        return ast.JoinOp(
            kind=kind and ident(kind),
            stream=ident(stream),
            keys=tuple(keys),
            within=within and self._duration(within),
            span=span_of(meta),
        )

    def join_key(self, meta, items):
        left, right = items
        return ast.JoinKey(left=ident(left), right=right and ident(right), span=span_of(meta))

    def lookup_op(self, meta, items):
        return ast.LookupOp(table=ident(items[0]), on=ident(items[1]), span=span_of(meta))

    def late_op(self, meta, items):
        return ast.LateOp(sink=ident(items[0]), span=span_of(meta))

    def into_op(self, meta, items):
        return ast.IntoOp(sink=ident(items[0]), span=span_of(meta))

    def plugin_op(self, meta, items):
        name, arguments, concurrency = items
        args, kwargs = arguments or ((), ())
        workers = None if concurrency is None else self._int(concurrency)
        return ast.PluginOp(
            name=ident(name), args=args, kwargs=kwargs, concurrency=workers, span=span_of(meta)
        )

    # alerts
    def alert_decl(self, meta, items):
        name, measure, op, threshold, hold = items
        return ast.AlertDecl(
            name=ident(name),
            measure=ident(measure),
            op=str(op),
            threshold=self._threshold(threshold),
            hold=hold and self._duration(hold),
            span=span_of(meta),
        )

    def _threshold(self, token: Token) -> ast.Threshold:
        text, span = str(token), token_span(token)
        if token.type == "PERCENT":
            share = 0.0
            if len(text) > 40:
                self._out_of_range(token, "percentage", "40 characters")
            else:
                share = float(Fraction(text[:-1]) / 100)
            return ast.Threshold(value=share, unit="percent", text=text, span=span)
        if token.type == "DURATION":
            ms = self._duration(token).ms
            return ast.Threshold(value=float(ms), unit="duration", text=text, span=span)
        if token.type == "INT":
            return ast.Threshold(value=float(self._int(token)), unit="number", text=text, span=span)
        value = float(text)
        if not math.isfinite(value):
            self._out_of_range(token, "number", "about 1.8e308 (64-bit float)")
            value = 0.0
        return ast.Threshold(value=value, unit="number", text=text, span=span)

    # tests
    def test_decl(self, meta, items):
        name, *stmts = items
        stmts = [s for s in stmts if s is not None]
        return ast.TestDecl(
            name=self._string(name),
            given=tuple(s for s in stmts if isinstance(s, ast.Given)),
            expect=tuple(s for s in stmts if isinstance(s, ast.Expect)),
            span=span_of(meta),
        )

    def given(self, meta, items):
        return ast.Given(source=ident(items[0]), value=items[1], span=span_of(meta))

    def expect(self, meta, items):
        ordered, sink, value = items
        return ast.Expect(
            sink=ident(sink), ordered=ordered is not None, value=value, span=span_of(meta)
        )
