"""Pipeline text to syntax tree (`ast.Program`), or syntax diagnostics.

A LALR(1) parser from `grammar.lark`. Newlines end statements except where the language says a
statement goes on (open brackets, a next line starting with `|`); the `_Newlines` postlexer
applies those rules so the grammar can stay plain. After a syntax error, parsing resumes at the
next line that starts a statement, so one run reports every broken statement.

Some text parses yet cannot become a tree, and is reported here too, never raised: numbers and
durations beyond 64 bits, `\\u` escapes that are not characters, and nesting deeper than
`MAX_NESTING` (the later phases are recursive).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from fractions import Fraction
from functools import cache
from importlib import resources

import msgspec
from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.lark import PostLex
from lark.parsers.lalr_parser_state import ParserState

from rillet.runtime.plan import Span

from . import ast
from .diagnostic import Diagnostic, did_you_mean, error

_OPENERS = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}
_CLOSERS = {"RPAR", "RSQB", "RBRACE"}
_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_MAX_SYNTAX_ERRORS = 20
# Nesting deeper than this is refused: the later phases walk the tree recursively, and a
# left-nested chain like `1 + 1 + ... + 1` of many hundred terms would exhaust Python's stack.
MAX_NESTING = 64  # keeps generated Python within its parser's 200 nested brackets
MAX_INT = 2**63 - 1  # integer literals and durations (in ms) are 64-bit, as in the runtime
OPERATORS = (
    "where",
    "select",
    "derive",
    "drop",
    "explode",
    "event_time",
    "window",
    "aggregate",
    "dedupe",
    "join",
    "lookup",
    "late",
    "into",
)


class _Newlines(PostLex):
    """Drops the newlines inside ( ) and [ ], and those right after `{` or `,`.

    It never looks ahead: the contextual lexer lexes each token in the parser state the previous
    token left, so holding a token back would lex the next one in the wrong state.
    """

    always_accept = ("_NL",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        brackets: list[str] = []
        previous: Token | None = None
        for token in stream:
            if token.type == "_NL":
                if brackets and brackets[-1] != "LBRACE":
                    continue
                if previous is None or previous.type in ("LBRACE", "COMMA"):
                    continue
            elif token.type in _OPENERS:
                brackets.append(token.type)
            elif token.type in _CLOSERS and brackets:
                brackets.pop()
            previous = token
            yield token


@cache
def _lark() -> Lark:
    grammar = resources.files("rillet.dsl").joinpath("grammar.lark").read_text()
    return Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        postlex=_Newlines(),
        propagate_positions=True,
        maybe_placeholders=True,
        cache=True,
    )


def _span_of(meta) -> Span:
    return Span(meta.line, meta.column, meta.end_line, meta.end_column)


def _token_span(token: Token) -> Span:
    return Span(token.line, token.column, token.end_line, token.end_column)


def _ident(token: Token) -> ast.Ident:
    return ast.Ident(text=str(token), span=_token_span(token))


_SURROGATE_PAIR = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")


def _unquote(token: Token) -> str:
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


def _shorten(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@v_args(meta=True)
class _ToAst(Transformer):
    """Lark tree to `ast` nodes; each method is named after a grammar rule. Literals that do
    not fit their type are collected in `problems` (the tree is still built)."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[Diagnostic] = []

    def _out_of_range(self, token: Token, what: str, limit: str) -> None:
        self.problems.append(
            error(
                "E0005",
                f"{what} `{_shorten(str(token))}` is out of range",
                _token_span(token),
                f"at most {limit}",
            )
        )

    def _string(self, token: Token) -> str:
        text = _unquote(token)
        if any("\ud800" <= c <= "\udfff" for c in text):
            self.problems.append(
                error(
                    "E0007",
                    "invalid `\\u` escape in string",
                    _token_span(token),
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
            ms = round(Fraction(number) * _UNITS_MS[unit])
        if ms is None or ms > MAX_INT:
            self._out_of_range(token, "duration", f"{MAX_INT}ms (64 bits)")
            ms = 0
        return ast.Duration(ms=ms, span=_token_span(token))

    def start(self, meta, items):
        return ast.Program(statements=tuple(items))

    # declarations
    def param_decl(self, meta, items):
        return ast.ParamDecl(name=_ident(items[0]), value=items[1], span=_span_of(meta))

    def set_decl(self, meta, items):
        return ast.SetDecl(name=_ident(items[0]), value=items[1], span=_span_of(meta))

    def dotted_name(self, meta, items):
        return ".".join(str(t) for t in items)

    def use_decl(self, meta, items):
        (target,) = items
        if isinstance(target, Token):
            return ast.UseDecl(target=self._string(target), is_path=True, span=_span_of(meta))
        return ast.UseDecl(target=target, is_path=False, span=_span_of(meta))

    def schema_decl(self, meta, items):
        name, *fields = items
        return ast.SchemaDecl(
            name=_ident(name), fields=tuple(f for f in fields if f is not None), span=_span_of(meta)
        )

    def field_decl(self, meta, items):
        return ast.FieldDecl(name=_ident(items[0]), type=items[1], span=_span_of(meta))

    def type_expr(self, meta, items):
        name, item, optional = items
        return ast.TypeExpr(
            name=_ident(name), item=item, optional=optional is not None, span=_span_of(meta)
        )

    def connector_call(self, meta, items):
        name, arguments = items
        args, kwargs = arguments or ((), ())
        return ast.ConnectorCall(name=_ident(name), args=args, kwargs=kwargs, span=_span_of(meta))

    def source_decl(self, meta, items):
        name, schema, call = items
        return ast.SourceDecl(
            name=_ident(name), schema=schema and _ident(schema), call=call, span=_span_of(meta)
        )

    def table_decl(self, meta, items):
        name, schema, call = items
        return ast.TableDecl(
            name=_ident(name), schema=schema and _ident(schema), call=call, span=_span_of(meta)
        )

    def sink_decl(self, meta, items):
        return ast.SinkDecl(name=_ident(items[0]), call=items[1], span=_span_of(meta))

    def errors_decl(self, meta, items):
        return ast.ErrorsDecl(sink=_ident(items[0]), span=_span_of(meta))

    def stream_decl(self, meta, items):
        return ast.StreamDecl(name=_ident(items[0]), flow=items[1], span=_span_of(meta))

    def flow(self, meta, items):
        head, *ops = items
        return ast.Flow(head=head, ops=tuple(ops), span=_span_of(meta))

    def stream_ref(self, meta, items):
        return _ident(items[0])

    def union(self, meta, items):
        return ast.UnionHead(streams=tuple(items), span=_span_of(meta))

    # operators
    def step(self, meta, items):
        op, name = items
        return op if name is None else msgspec.structs.replace(op, named=_ident(name))

    def where_op(self, meta, items):
        return ast.WhereOp(cond=items[0], span=_span_of(meta))

    def select_op(self, meta, items):
        return ast.SelectOp(items=tuple(items), span=_span_of(meta))

    def select_item(self, meta, items):
        return ast.SelectItem(name=_ident(items[0]), value=items[1], span=_span_of(meta))

    def derive_op(self, meta, items):
        return ast.DeriveOp(items=tuple(items), span=_span_of(meta))

    def assignment(self, meta, items):
        return ast.Assignment(name=_ident(items[0]), value=items[1], span=_span_of(meta))

    def drop_op(self, meta, items):
        return ast.DropOp(names=tuple(_ident(t) for t in items), span=_span_of(meta))

    def explode_op(self, meta, items):
        field, into = items
        return ast.ExplodeOp(field=_ident(field), into=into and _ident(into), span=_span_of(meta))

    def event_time_op(self, meta, items):
        field, lateness, idle = items
        return ast.EventTimeOp(
            field=_ident(field),
            lateness=lateness and self._duration(lateness),
            idle=idle and self._duration(idle),
            span=_span_of(meta),
        )

    def window_op(self, meta, items):
        kind, size, every = items[0]
        return ast.WindowOp(kind=kind, size=size, every=every, span=_span_of(meta))

    def tumbling(self, meta, items):
        return ("tumbling", self._duration(items[0]), None)

    def sliding(self, meta, items):
        return ("sliding", self._duration(items[0]), self._duration(items[1]))

    def session(self, meta, items):
        return ("session", self._duration(items[0]), None)

    def aggregate_op(self, meta, items):
        keys = tuple(_ident(t) for t in items if isinstance(t, Token))
        assigns = tuple(i for i in items if isinstance(i, ast.Assignment))
        return ast.AggregateOp(keys=keys, items=assigns, span=_span_of(meta))

    def dedupe_op(self, meta, items):
        *keys, within = items
        return ast.DedupeOp(
            keys=tuple(_ident(k) for k in keys), within=self._duration(within), span=_span_of(meta)
        )

    def join_op(self, meta, items):
        stream, on, within = items
        return ast.JoinOp(
            stream=_ident(stream), on=_ident(on), within=self._duration(within), span=_span_of(meta)
        )

    def lookup_op(self, meta, items):
        return ast.LookupOp(table=_ident(items[0]), on=_ident(items[1]), span=_span_of(meta))

    def late_op(self, meta, items):
        return ast.LateOp(sink=_ident(items[0]), span=_span_of(meta))

    def into_op(self, meta, items):
        return ast.IntoOp(sink=_ident(items[0]), span=_span_of(meta))

    def plugin_op(self, meta, items):
        name, arguments, concurrency = items
        args, kwargs = arguments or ((), ())
        workers = None if concurrency is None else self._int(concurrency)
        return ast.PluginOp(
            name=_ident(name), args=args, kwargs=kwargs, concurrency=workers, span=_span_of(meta)
        )

    # alerts
    def alert_decl(self, meta, items):
        name, measure, op, threshold, hold = items
        return ast.AlertDecl(
            name=_ident(name),
            measure=_ident(measure),
            op=str(op),
            threshold=self._threshold(threshold),
            hold=hold and self._duration(hold),
            span=_span_of(meta),
        )

    def _threshold(self, token: Token) -> ast.Threshold:
        text, span = str(token), _token_span(token)
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
            span=_span_of(meta),
        )

    def given(self, meta, items):
        return ast.Given(source=_ident(items[0]), value=items[1], span=_span_of(meta))

    def expect(self, meta, items):
        ordered, sink, value = items
        return ast.Expect(
            sink=_ident(sink), ordered=ordered is not None, value=value, span=_span_of(meta)
        )

    # arguments and expressions
    def arguments(self, meta, items):
        args = tuple(i for i in items if not isinstance(i, ast.KeywordArg))
        kwargs = tuple(i for i in items if isinstance(i, ast.KeywordArg))
        return args, kwargs

    def keyword_arg(self, meta, items):
        return ast.KeywordArg(name=_ident(items[0]), value=items[1], span=_span_of(meta))

    def if_expr(self, meta, items):
        return ast.IfExpr(cond=items[0], then=items[1], other=items[2], span=_span_of(meta))

    def _binary(self, meta, op, left, right):
        return ast.BinaryExpr(op=op, left=left, right=right, span=_span_of(meta))

    def or_(self, meta, items):
        return self._binary(meta, "or", items[0], items[1])

    def and_(self, meta, items):
        return self._binary(meta, "and", items[0], items[1])

    def not_(self, meta, items):
        return ast.UnaryExpr(op="not", operand=items[0], span=_span_of(meta))

    def compare(self, meta, items):
        return self._binary(meta, str(items[1]), items[0], items[2])

    def in_(self, meta, items):
        return self._binary(meta, "in", items[0], items[1])

    def not_in(self, meta, items):
        return self._binary(meta, "not_in", items[0], items[1])

    def match(self, meta, items):
        pattern = ast.Literal(value=self._string(items[1]), kind="str", span=_token_span(items[1]))
        return ast.MatchExpr(operand=items[0], pattern=pattern, span=_span_of(meta))

    def coalesce_(self, meta, items):
        return self._binary(meta, "??", items[0], items[1])

    def arith(self, meta, items):
        return self._binary(meta, str(items[1]), items[0], items[2])

    def neg(self, meta, items):
        return ast.UnaryExpr(op="-", operand=items[0], span=_span_of(meta))

    def attr(self, meta, items):
        return ast.FieldAccess(target=items[0], name=_ident(items[1]), span=_span_of(meta))

    def index(self, meta, items):
        return ast.IndexAccess(target=items[0], key=items[1], span=_span_of(meta))

    def call(self, meta, items):
        name, arguments = items
        args, kwargs = arguments or ((), ())
        return ast.CallExpr(name=_ident(name), args=args, kwargs=kwargs, span=_span_of(meta))

    def name(self, meta, items):
        return ast.NameRef(name=str(items[0]), span=_span_of(meta))

    def this(self, meta, items):
        return ast.This(span=_span_of(meta))

    def list_lit(self, meta, items):
        return ast.ListExpr(items=tuple(i for i in items if i is not None), span=_span_of(meta))

    def record_lit(self, meta, items):
        return ast.RecordExpr(items=tuple(i for i in items if i is not None), span=_span_of(meta))

    def record_item(self, meta, items):
        key, value = items
        text = self._string(key) if key.type == "STRING" else str(key)
        return ast.RecordItem(key=text, value=value, span=_span_of(meta))

    def _literal(self, meta, value, kind):
        return ast.Literal(value=value, kind=kind, span=_span_of(meta))

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


_READABLE = {
    "NAME": "a name",
    "STRING": "a string",
    "INT": "an integer",
    "FLOAT": "a number",
    "DURATION": "a duration like `10s`",
    "_NL": "end of line",
    "$END": "end of file",
    "COMPARE": "a comparison",
    "ADD_OP": "`+`, `-`",
    "MUL_OP": "`*`, `/`, `//`, `%`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "COMMA": "`,`",
    "VBAR": "`|`",
    "EQUAL": "`=`",
    "COLON": "`:`",
    "DOT": "`.`",
    "OPTIONAL": "`?`",
    "ORDERED": "`ordered`",
    "PERCENT": "a percentage like `80%`",
}


def _readable(terminal: str) -> str:
    if terminal in _READABLE:
        return _READABLE[terminal]
    pattern = _lark().get_terminal(terminal).pattern
    return f"`{pattern.value}`" if pattern.type == "str" else terminal.lower()


# Where any expression or any operator may come, say so instead of listing what starts one:
# a group is named when all of its core terminals are expected; it then takes its extras too.
_GROUPS = {
    "an expression": (
        frozenset(
            {
                "DURATION",
                "FALSE",
                "FLOAT",
                "INT",
                "LBRACE",
                "LPAR",
                "LSQB",
                "MINUS",
                "NAME",
                "NULL",
                "STRING",
                "THIS",
                "TRUE",
            }
        ),
        frozenset({"IF", "NOT"}),
    ),
    "an operator": (
        frozenset(
            {
                "AGGREGATE",
                "DEDUPE",
                "DERIVE",
                "DROP",
                "EVENT_TIME",
                "EXPLODE",
                "INTO",
                "JOIN",
                "LATE",
                "LOOKUP",
                "NAME",
                "SELECT",
                "WHERE",
                "WINDOW",
            }
        ),
        frozenset(),
    ),
}


def _expected(names: set[str]) -> str:
    groups = [word for word, (core, _) in _GROUPS.items() if core <= names]
    for word in groups:
        names = names - _GROUPS[word][0] - _GROUPS[word][1]
    words = groups + sorted({_readable(n) for n in names if not n.startswith("__")})
    if len(words) > 8:
        words = words[:8] + ["..."]
    return ", ".join(words)


def _accepted(exc: UnexpectedToken) -> set[str]:
    """The terminals the parser could take where it stopped. When the contextual lexer raised
    the error, lark's `expected` is what that lexer matches, which always includes `_NL`
    (`always_accept`), so the parse table is asked instead."""
    state = exc.state
    if isinstance(state, ParserState):
        return {t for t in state.parse_conf.states[state.position] if t.isupper()}
    return set(exc.expected)


def _keyword_as_operand(exc: UnexpectedToken) -> Token | None:
    """`1 + if c then a else b`, `a ?? not b`: where `if` and `not` cannot come, the contextual
    lexer reads them as names, and the error would point at the token after them."""
    state = exc.state
    if not isinstance(state, ParserState) or not state.value_stack:
        return None
    *before, last = state.value_stack
    after_dot = bool(before) and isinstance(before[-1], Token) and before[-1].type == "DOT"
    if isinstance(last, Token) and last.type == "NAME" and last in ("if", "not") and not after_dot:
        return last
    return None


_STRING = re.compile(r'"([^"\\\n]|\\.)*"')


def _syntax_diagnostic(exc: UnexpectedInput, text: str) -> Diagnostic:
    if isinstance(exc, UnexpectedCharacters):
        return _unexpected_character(exc, text)
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        return _unexpected_token(exc, text)
    # the caret goes right after the last thing written, not on the trailing blank lines
    lines = text.rstrip().split("\n")
    end = Span(len(lines), len(lines[-1]) + 1, len(lines), len(lines[-1]) + 2)
    accepted_at_end = _accepted(exc) if isinstance(exc, UnexpectedToken) else None
    label = f"expected {_expected(accepted_at_end)}" if accepted_at_end else ""
    return error(
        "E0003", "unexpected end of file", end, label, "a bracket or block may be left open"
    )


def _unexpected_character(exc: UnexpectedCharacters, text: str) -> Diagnostic:
    at = exc.pos_in_stream or 0
    char = text[at] if at < len(text) else ""
    if char == '"' and not _STRING.match(text, at):
        # the lexer cannot read a string without its closing quote, and would blame the
        # opening one as a stray character
        rest = text[at:].split("\n", 1)[0].removesuffix("\r")
        span = Span(exc.line, exc.column, exc.line, exc.column + len(rest))
        return error(
            "E0001",
            "unterminated string",
            span,
            'no closing `"` on this line',
            "a string ends on the line it starts; write a line break in it as `\\n`",
        )
    shown = char if char.isprintable() else ascii(char)[1:-1]
    span = Span(exc.line, exc.column, exc.line, exc.column + 1)
    return error("E0001", f"unexpected character `{shown}`", span, "not valid here")


def _unexpected_token(exc: UnexpectedToken, text: str) -> Diagnostic:
    token = exc.token
    keyword = _keyword_as_operand(exc)
    if keyword is not None:
        form = "if ... then ... else ..." if keyword == "if" else "not ..."
        return error(
            "E0002",
            f"`{keyword}` cannot start an operand here",
            _token_span(keyword),
            f"write `({form})` in parentheses",
            "`if` and `not` bind more loosely than arithmetic, comparisons and `??`",
        )
    before = text.split("\n")[token.line - 1][: token.column - 1]
    operator = re.search(r"\|\s*([A-Za-z_]\w*)\s*$", before)
    if operator and operator.group(1) not in OPERATORS:
        return _unknown_operator(operator, token.line)
    found = "end of line" if token.type == "_NL" else f"`{_shorten(str(token))}`"
    span = _token_span(token)
    if token.type == "_NL":
        span = Span(token.line, token.column, token.line, token.column + 1)
    accepted = _accepted(exc)
    if token.type == "EQUAL" and "COMPARE" in accepted:  # `where status = 200`
        return error(
            "E0002",
            "unexpected `=`",
            span,
            "did you mean `==`?",
            "`==` compares; `=` gives a name its value, as in `derive x = ...`",
        )
    expected = _expected(accepted)
    hints: tuple[str, ...] = ()
    if token.type == "AS":  # `window tumbling 10s as w`, `into out as w`
        hints = (
            "`as` names a step; `window`, `into` and `late into` take no name (name "
            "the `aggregate` after a `window`)",
        )
    return error("E0002", f"unexpected {found}", span, f"expected {expected}", *hints)


def _unknown_operator(operator: re.Match[str], line: int) -> Diagnostic:
    name = operator.group(1)
    start = operator.start(1) + 1
    span = Span(line, start, line, start + len(name))
    close = did_you_mean(name, OPERATORS)
    label = f"did you mean `{close}`?" if close else "not an operator"
    return error(
        "E0004",
        f"unknown operator `{name}`",
        span,
        label,
        "a plugin operator is called with parentheses: `name(arg=value)`",
    )


def _next_statement_line(lines: list[str], after: int) -> int | None:
    """The 0-based index of the first line after line `after` (1-based) that starts a statement:
    not indented, not a comment, not a continuation."""
    for index in range(after, len(lines)):
        line = lines[index]
        if line and not line[0].isspace() and line[0] not in "#|})]":
            return index
    return None


def _too_deep(tree: Tree) -> Diagnostic | None:
    """An error at the first subtree nested deeper than `MAX_NESTING` (found without
    recursion, since recursion is what such a tree would break)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            meta = node.meta
            span = None if meta.empty else Span(meta.line, meta.column, meta.line, meta.column + 1)
            return error(
                "E0006",
                "expression is nested too deeply",
                span,
                f"more than {MAX_NESTING} levels",
                "split it into several `derive` steps or `param`s",
            )
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))
    return None


def parse(text: str) -> tuple[ast.Program | None, list[Diagnostic]]:
    """The program, or None with every syntax error found."""
    diagnostics: list[Diagnostic] = []
    lines = text.split("\n")
    attempt = text
    while len(diagnostics) < _MAX_SYNTAX_ERRORS:
        try:
            tree = _lark().parse(attempt)
        except UnexpectedInput as exc:
            diagnostics.append(_syntax_diagnostic(exc, attempt))
            line = exc.line if isinstance(exc.line, int) and exc.line > 0 else len(lines)
            resume = _next_statement_line(lines, line)
            if resume is None:
                break
            attempt = "\n" * resume + "\n".join(lines[resume:])
            continue
        if diagnostics:
            break
        deep = _too_deep(tree)
        if deep is not None:
            return None, [deep]
        transformer = _ToAst()
        program = transformer.transform(tree)
        if transformer.problems:
            return None, transformer.problems
        return program, []
    return None, diagnostics


__all__ = ["OPERATORS", "parse"]
