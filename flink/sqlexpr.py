"""Plan expressions as Flink SQL, keeping rillet's null rules.

Flink SQL already gives null for arithmetic on null; an ordering comparison with null is
UNKNOWN there, which `WHERE` treats as false but a derived boolean would keep as null, so it is
wrapped in `COALESCE(..., FALSE)`; `==` is `IS NOT DISTINCT FROM` (null equals null in rillet).
What SQL means otherwise (`//`, `%`, `+` of text or lists, indexing, `in` over a value, the
functions without a built-in of the same meaning) is a Python UDF of rillet's own meaning
(`functions.py`, `pyops.py`), with the result type `coltypes.py` infers from the operands'.
String literals are quoted by doubling `'`, field names by
doubling a backtick: no user text reaches the SQL unescaped. What has no SQL form raises
`Unmappable`, naming the feature, which `translate.py` turns into a diagnostic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rillet.runtime.plan import (
    Binary,
    Call,
    Expr,
    Field,
    IfElse,
    Index,
    ListOf,
    Lit,
    Match,
    RecordOf,
    Unary,
)

from .coltypes import BIGINT, NUMBERS, Typer, Types, item_of, record_field

if TYPE_CHECKING:
    from .functions import Functions, PyUdaf, PyUdf


class Unmappable(Exception):
    """A feature of the plan with no Flink translation (yet); the message says which and why,
    the `hint` what the user can change, where something can be."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


def ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return f"CAST({value} AS BIGINT)"
    if isinstance(value, float):
        return f"CAST({value!r} AS DOUBLE)"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise Unmappable(f"a literal {type(value).__name__} value has no Flink SQL form here")


_COMPARISONS = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_SQL_ARITHMETIC = {"+", "-", "*"}
_PYTHON_OPERATORS = {"//": "floor_divide", "%": "remainder", "+": "plus", "*": "times"}


def _comparison(op: str, a: str, b: str) -> str:
    """`==` and `!=` compare nulls as values (null == null is true, as in rillet); an ordering
    comparison with a null side is false."""
    if op == "==":
        return f"({a} IS NOT DISTINCT FROM {b})"
    if op == "!=":
        return f"({a} IS DISTINCT FROM {b})"
    return f"COALESCE({a} {_COMPARISONS[op]} {b}, FALSE)"


@dataclass
class Env:
    """What expressions of one job share: the functions they may call, and the UDFs the job
    registers, by SQL name (filled as calls are compiled)."""

    functions: Functions
    udfs: dict[str, PyUdf] = field(default_factory=dict)
    udafs: dict[str, PyUdaf] = field(default_factory=dict)
    python_calls: int = 0
    """How many calls of Python functions (UDFs, aggregate functions) were compiled so far: a
    step whose count rose runs Python (`pythonorder.py`)."""

    def call(self, udf: PyUdf, args: list[str]) -> str:
        self.udfs[udf.sql_name] = udf
        self.python_calls += 1
        return f"{udf.sql_name}({', '.join(args)})"

    def aggregate_call(self, udaf: PyUdaf, args: list[str]) -> str:
        self.udafs[udaf.sql_name] = udaf
        self.python_calls += 1
        return f"{udaf.sql_name}({', '.join(args)})"


class SqlExpr:
    """Compiles expressions over the columns of one view; `columns` maps a field to its SQL,
    `types` a field to its Flink type (`coltypes.py`)."""

    def __init__(self, columns: dict[str, str], types: Types, env: Env) -> None:
        self.columns = columns
        self.env = env
        self.typer = Typer(types, env.functions.result)

    def compile(self, expr: Expr) -> str:
        match expr:
            case Lit(value=value):
                return literal(value)
            case Field(path=()):
                raise Unmappable("`this`, the whole record (records are Flink rows here)")
            case Field(path=(name, *rest)):
                column = self.columns.get(name, "NULL")  # a field not there reads as null
                return self._nested(name, column, tuple(rest)) if rest else column
            case Index(target=target, key=key):
                return self._index(target, key)
            case Call(name=name, args=args, kwargs=kwargs):
                return self._call(name, self.env.functions.positional(name, args, kwargs))
            case Unary(op="not", operand=operand):
                return f"(NOT COALESCE({self.compile(operand)}, FALSE))"
            case Unary(op="-", operand=operand):
                return f"(-{self.compile(operand)})"
            case Binary(op=op, left=left, right=right):
                return self._binary(op, left, right)
            case Match(operand=operand, pattern=pattern):
                return _regex(self.compile(operand), pattern)
            case IfElse(cond=cond, then=then, other=other):
                c, a, b = (self.compile(e) for e in (cond, then, other))
                kind = self.typer.of(expr)
                a, b = (a, b) if kind is None else (f"CAST({a} AS {kind})", f"CAST({b} AS {kind})")
                return f"(CASE WHEN COALESCE({c}, FALSE) THEN {a} ELSE {b} END)"
            case ListOf(items=items):
                return self._list(expr, items)
            case RecordOf(items=items):
                return self._record(expr, items)
        raise Unmappable(f"the expression `{type(expr).__name__}` has no Flink SQL form yet")

    def _nested(self, name: str, column: str, rest: tuple[str, ...]) -> str:
        """`geo.city` on a record value (a Flink ROW of known fields): its field, null
        through a null, as in rillet."""
        kind = self.typer.types.get(name)
        for key in rest:
            if not (kind or "").startswith("ROW<"):
                raise Unmappable("a nested field of a value that is not a record of known fields")
            column, kind = f"{column}.{ident(key)}", record_field(kind, key)
        return column

    def _index(self, target: Expr, key: Expr) -> str:
        """`x[i]` of a list or a string, as rillet reads it (0-based, negative from the end,
        null out of range)."""
        kind = self.typer.of(target)
        result = item_of(kind) or (kind if kind == "STRING" else None)
        if result is None or self.typer.of(key) != BIGINT:
            raise Unmappable("an index but an int one into a list or a string of known type")
        udf = _operator_udf("index", result, "an index `[i]`")
        return self.env.call(udf, [self.compile(target), self.compile(key)])

    def _call(self, name: str, args: tuple[Expr, ...]) -> str:
        functions = self.env.functions
        kinds = [self.typer.of(a) for a in args]
        compiled = [self.compile(a) for a in args]
        if functions.is_builtin(name, kinds):
            return functions.builtin(name, compiled)
        return self.env.call(functions.udf(name, kinds), compiled)

    def _binary(self, op: str, left: Expr, right: Expr) -> str:
        if op in ("in", "not_in"):
            return self._membership(op, left, right)
        a, b = self.compile(left), self.compile(right)
        if op in _COMPARISONS:
            return _comparison(op, a, b)
        if op in ("and", "or"):
            return f"(COALESCE({a}, FALSE) {op.upper()} COALESCE({b}, FALSE))"
        if op == "??":
            return f"COALESCE({a}, {b})"
        if op == "/":
            return f"(CAST({a} AS DOUBLE) / {b})"
        kinds = {self.typer.of(left), self.typer.of(right)}
        sql_meaning = kinds <= {*NUMBERS, None} and op in _SQL_ARITHMETIC
        if sql_meaning or op == "-":  # numbers (or a null side: null either way)
            return f"({a} {op} {b})"
        if op in _PYTHON_OPERATORS:
            result = self.typer.of(Binary(op, left, right))
            udf = _operator_udf(_PYTHON_OPERATORS[op], result, f"`{op}`")
            return self.env.call(udf, [a, b])
        raise Unmappable(f"the operator `{op}` has no Flink translation yet")

    def _membership(self, op: str, left: Expr, right: Expr) -> str:
        """`x in [literals]` as equalities that take null as a value, as rillet's `in` does;
        `in` over a list, record or string value is rillet's own test, as a UDF."""
        items = right.items if isinstance(right, ListOf) else ()
        values = [i.value for i in items if isinstance(i, Lit)]
        kinds = {type(v) for v in values if v is not None}
        if not items or len(values) != len(items) or len(kinds) > 1:
            udf = _operator_udf("member", "BOOLEAN", "`in`")
            test = self.env.call(udf, [self.compile(left), self.compile(right)])
            return test if op == "in" else f"(NOT {test})"
        needle = self.compile(left)
        test = " OR ".join(_comparison("==", needle, literal(v)) for v in values)
        return f"({test})" if op == "in" else f"(NOT ({test}))"

    def _list(self, expr: Expr, items: tuple[Expr, ...]) -> str:
        kind = item_of(self.typer.of(expr))
        if kind is None or any(self.typer.of(i) not in (kind, None) for i in items):
            raise Unmappable(
                "a list literal whose items are not of one known type (a Flink ARRAY holds one:"
                " `[1, 2.5]` would read `[1.0, 2.5]`)"
            )
        return "ARRAY[" + ", ".join(f"CAST({self.compile(i)} AS {kind})" for i in items) + "]"

    def _record(self, expr: Expr, items: tuple[tuple[str, Expr], ...]) -> str:
        kind = self.typer.of(expr)
        if kind is None:
            raise Unmappable("a record literal with a value of no known type (Flink ROW)")
        values = ", ".join(self.compile(v) for _, v in items)
        return f"CAST(ROW({values}) AS {kind})"


def _operator_udf(attr: str, result: str | None, what: str) -> PyUdf:
    from .functions import operator_udf

    return operator_udf(attr, result, what)


_UNGREEDY_FLAG = re.compile(r"\(\?[a-zA-Z-]*U")


def _regex(operand: str, pattern: str) -> str:
    """`=~` is Flink's REGEXP (Java's `find`, a match anywhere, as rillet's RE2 search); null
    does not match. RE2 and Java read their shared syntax alike; RE2's `(?P<name>`, `\\C` and
    flag `U` (ungreedy; Unicode classes in Java) do not carry over."""
    if "(?P" in pattern or "\\C" in pattern or _UNGREEDY_FLAG.search(pattern):
        raise Unmappable(
            "a pattern with RE2's `(?P<name>`, `\\C` or `(?U)`: Java reads them otherwise"
        )
    return f"COALESCE(REGEXP({operand}, {literal(pattern)}), FALSE)"
