"""Lark's parse tree to the syntax tree (`ast`): one method per grammar rule, every node with
its span. Literals that do not fit their type (numbers and durations beyond 64 bits, `\\u`
escapes that are not characters) are collected as problems, never raised."""

from __future__ import annotations

import json
import math
import re
from fractions import Fraction

import msgspec
from lark import Token, Transformer, v_args

from rillet.runtime.plan import Span

from . import ast
from .diagnostic import Diagnostic, error

UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
MAX_INT = 2**63 - 1  # integer literals and durations (in ms) are 64-bit, as in the runtime


def span_of(meta) -> Span:
    return Span(meta.line, meta.column, meta.end_line, meta.end_column)


def token_span(token: Token) -> Span:
    return Span(token.line, token.column, token.end_line, token.end_column)


def ident(token: Token) -> ast.Ident:
    return ast.Ident(text=str(token), span=token_span(token))


_SURROGATE_PAIR = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")


def unquote(token: Token) -> str:
    """A string literal's value: JSON escapes, and any other backslash kept as written (so
    regular expressions like "\\d+" read naturally)."""
    body = str(token)[1:-1]
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "u" and i + 6 <= len(body):
                # a surrogate pair (`\ud83d\ude00`) is one character, as in JSON
                size = 12 if _SURROGATE_PAIR.match(body, i) else 6
                try:
                    out.append(json.loads(f'"{body[i : i + size]}"'))
                    i += size
                    continue
                except ValueError:
                    pass
            simple = {
                '"': '"',
                "\\": "\\",
                "/": "/",
                "n": "\n",
                "t": "\t",
                "r": "\r",
                "b": "\b",
                "f": "\f",
            }
            if nxt in simple:
                out.append(simple[nxt])
            else:
                out.append(ch + nxt)
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def shorten(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@v_args(meta=True)
class ToAst(Transformer):
    """Lark tree to `ast` nodes; each method is named after a grammar rule. Literals that do
    not fit their type are collected in `problems` (the tree is still built)."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[Diagnostic] = []

    def _out_of_range(self, token: Token, what: str, limit: str) -> None:
        self.problems.append(
            error(
                "E0005",
                f"{what} `{shorten(str(token))}` is out of range",
                token_span(token),
                f"at most {limit}",
            )
        )

    def _string(self, token: Token) -> str:
        text = unquote(token)
        if any("\ud800" <= c <= "\udfff" for c in text):
            self.problems.append(
                error(
                    "E0007",
                    "invalid `\\u` escape in string",
                    token_span(token),
                    "a lone surrogate is not a character",
                    "write the character itself, or both halves of a surrogate pair",
                )
            )
            return text.encode("utf-8", "replace").decode("utf-8")
        return text

    def _int(self, token: Token) -> int:
        digits = str(token).lstrip("0") or "0"
        if len(digits) > len(str(MAX_INT)) or int(digits) > MAX_INT:
            self._out_of_range(token, "integer", f"{MAX_INT} (64 bits)")
            return 0
        return int(digits)

    def _duration(self, token: Token) -> ast.Duration:
        text = str(token)
        unit = "ms" if text.endswith("ms") else text[-1]
        number = text[: -len(unit)]
        ms = None
        if len(number) <= 40:
            ms = round(Fraction(number) * UNITS_MS[unit])
        if ms is None or ms > MAX_INT:
            self._out_of_range(token, "duration", f"{MAX_INT}ms (64 bits)")
            ms = 0
        return ast.Duration(ms=ms, span=token_span(token))

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
        name, schema, call = items
        return ast.SourceDecl(
            name=ident(name), schema=schema and ident(schema), call=call, span=span_of(meta)
        )

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
        kind, size, every = items[0]
        return ast.WindowOp(kind=kind, size=size, every=every, span=span_of(meta))

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

    def dedupe_op(self, meta, items):
        *keys, within = items
        return ast.DedupeOp(
            keys=tuple(ident(k) for k in keys), within=self._duration(within), span=span_of(meta)
        )

    def join_op(self, meta, items):
        stream, on, within = items
        return ast.JoinOp(
            stream=ident(stream), on=ident(on), within=self._duration(within), span=span_of(meta)
        )

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

    # arguments and expressions
    def arguments(self, meta, items):
        args = tuple(i for i in items if not isinstance(i, ast.KeywordArg))
        kwargs = tuple(i for i in items if isinstance(i, ast.KeywordArg))
        return args, kwargs

    def keyword_arg(self, meta, items):
        return ast.KeywordArg(name=ident(items[0]), value=items[1], span=span_of(meta))

    def if_expr(self, meta, items):
        return ast.IfExpr(cond=items[0], then=items[1], other=items[2], span=span_of(meta))

    def _binary(self, meta, op, left, right):
        return ast.BinaryExpr(op=op, left=left, right=right, span=span_of(meta))

    def or_(self, meta, items):
        return self._binary(meta, "or", items[0], items[1])

    def and_(self, meta, items):
        return self._binary(meta, "and", items[0], items[1])

    def not_(self, meta, items):
        return ast.UnaryExpr(op="not", operand=items[0], span=span_of(meta))

    def compare(self, meta, items):
        return self._binary(meta, str(items[1]), items[0], items[2])

    def in_(self, meta, items):
        return self._binary(meta, "in", items[0], items[1])

    def not_in(self, meta, items):
        return self._binary(meta, "not_in", items[0], items[1])

    def match(self, meta, items):
        pattern = ast.Literal(value=self._string(items[1]), kind="str", span=token_span(items[1]))
        return ast.MatchExpr(operand=items[0], pattern=pattern, span=span_of(meta))

    def coalesce_(self, meta, items):
        return self._binary(meta, "??", items[0], items[1])

    def arith(self, meta, items):
        return self._binary(meta, str(items[1]), items[0], items[2])

    def neg(self, meta, items):
        return ast.UnaryExpr(op="-", operand=items[0], span=span_of(meta))

    def attr(self, meta, items):
        return ast.FieldAccess(target=items[0], name=ident(items[1]), span=span_of(meta))

    def index(self, meta, items):
        return ast.IndexAccess(target=items[0], key=items[1], span=span_of(meta))

    def call(self, meta, items):
        name, arguments = items
        args, kwargs = arguments or ((), ())
        return ast.CallExpr(name=ident(name), args=args, kwargs=kwargs, span=span_of(meta))

    def name(self, meta, items):
        return ast.NameRef(name=str(items[0]), span=span_of(meta))

    def this(self, meta, items):
        return ast.This(span=span_of(meta))

    def list_lit(self, meta, items):
        return ast.ListExpr(items=tuple(i for i in items if i is not None), span=span_of(meta))

    def record_lit(self, meta, items):
        return ast.RecordExpr(items=tuple(i for i in items if i is not None), span=span_of(meta))

    def record_item(self, meta, items):
        key, value = items
        text = self._string(key) if key.type == "STRING" else str(key)
        return ast.RecordItem(key=text, value=value, span=span_of(meta))

    def _literal(self, meta, value, kind):
        return ast.Literal(value=value, kind=kind, span=span_of(meta))

    def int_lit(self, meta, items):
        return self._literal(meta, self._int(items[0]), "int")

    def float_lit(self, meta, items):
        value = float(items[0])
        if not math.isfinite(value):
            self._out_of_range(items[0], "number", "about 1.8e308 (64-bit float)")
            value = 0.0
        return self._literal(meta, value, "float")

    def string_lit(self, meta, items):
        return self._literal(meta, self._string(items[0]), "str")

    def duration_lit(self, meta, items):
        return self._literal(meta, self._duration(items[0]).ms, "duration")

    def true_lit(self, meta, items):
        return self._literal(meta, True, "bool")

    def false_lit(self, meta, items):
        return self._literal(meta, False, "bool")

    def null_lit(self, meta, items):
        return self._literal(meta, None, "null")
