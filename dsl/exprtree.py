"""Lark's parse tree of an expression to the syntax tree (`ast`), and the literals every rule
reads: numbers and durations that must fit 64 bits, strings with JSON escapes. A literal that
does not fit its type is collected as a problem, never raised. The declarations and operators
around expressions are built by `treebuild.py`."""

from __future__ import annotations

import json
import math
import re
from fractions import Fraction

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
class ExpressionTree(Transformer):
    """Lark tree to `ast` expressions; each method is named after a grammar rule. Literals that
    do not fit their type are collected in `problems` (the tree is still built)."""

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
