"""Plan expressions as Flink SQL, keeping rillet's null rules.

Flink SQL already gives null for arithmetic on null; an ordering comparison with null is
UNKNOWN there, which `WHERE` treats as false but a derived boolean would keep as null, so it is
wrapped in `COALESCE(..., FALSE)`; `==` is `IS NOT DISTINCT FROM` (null equals null in rillet).
`//` is left out: its result type follows its operands' types, which the plan does not carry.
String literals are quoted by doubling `'`, field names by
doubling a backtick: no user text reaches the SQL unescaped. What has no SQL form raises
`Unmappable`, naming the feature, which `translate.py` turns into a diagnostic.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rillet.runtime.plan import Binary, Call, Expr, Field, IfElse, ListOf, Lit, Match, Unary


class Unmappable(Exception):
    """A feature of the plan with no Flink translation (yet); the message says which and why."""


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
_ARITHMETIC = {"+": "+", "-": "-", "*": "*", "%": "MOD"}


def _comparison(op: str, a: str, b: str) -> str:
    """`==` and `!=` compare nulls as values (null == null is true, as in rillet); an ordering
    comparison with a null side is false."""
    if op == "==":
        return f"({a} IS NOT DISTINCT FROM {b})"
    if op == "!=":
        return f"({a} IS DISTINCT FROM {b})"
    return f"COALESCE({a} {_COMPARISONS[op]} {b}, FALSE)"


def _time(ms: str) -> str:
    return f"TO_TIMESTAMP_LTZ({ms}, 3)"


FUNCTIONS: dict[str, Callable[[list[str]], str]] = {
    "lower": lambda a: f"LOWER({a[0]})",
    "upper": lambda a: f"UPPER({a[0]})",
    "abs": lambda a: f"ABS({a[0]})",
    "floor": lambda a: f"CAST(FLOOR({a[0]}) AS BIGINT)",
    "ceil": lambda a: f"CAST(CEIL({a[0]}) AS BIGINT)",
    "round": lambda a: f"CAST(ROUND({a[0]}, CAST({a[1] if len(a) > 1 else 0} AS INT)) AS DOUBLE)",
    "coalesce": lambda a: f"COALESCE({a[0]}, {a[1]})",
    "starts_with": lambda a: f"STARTSWITH({a[0]}, {a[1]})",
    "ends_with": lambda a: f"ENDSWITH({a[0]}, {a[1]})",
    "replace": lambda a: f"REPLACE({a[0]}, {a[1]}, {a[2]})",
    "format_time": lambda a: f"DATE_FORMAT({_time(a[0])}, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''')",
    "date": lambda a: f"DATE_FORMAT({_time(a[0])}, 'yyyy-MM-dd')",
    "year": lambda a: f"CAST(EXTRACT(YEAR FROM {_time(a[0])}) AS BIGINT)",
    "month": lambda a: f"CAST(EXTRACT(MONTH FROM {_time(a[0])}) AS BIGINT)",
    "day": lambda a: f"CAST(EXTRACT(DAY FROM {_time(a[0])}) AS BIGINT)",
    "hour": lambda a: f"CAST(EXTRACT(HOUR FROM {_time(a[0])}) AS BIGINT)",
    "minute": lambda a: f"CAST(EXTRACT(MINUTE FROM {_time(a[0])}) AS BIGINT)",
}
"""rillet functions with a Flink SQL built-in of the same meaning (times are UTC: the job sets
`table.local-time-zone`). `format_time` maps only without a format: strftime and Java patterns
differ. `round` rounds the decimal text half up where rillet rounds the binary value half to
even: results can differ by one unit of the last digit kept (docs/flink.md)."""

ONE_ARGUMENT_ONLY = {"format_time"}


class SqlExpr:
    """Compiles expressions over the columns of one view; `columns` maps a field to its SQL."""

    def __init__(self, columns: dict[str, str]) -> None:
        self.columns = columns

    def compile(self, expr: Expr) -> str:
        match expr:
            case Lit(value=value):
                return literal(value)
            case Field(path=(name,)):
                return self.columns.get(name, "NULL")  # a field not there reads as null
            case Field():
                raise Unmappable("a nested field or `this` (records are not Flink rows here)")
            case Call(name=name, args=args, kwargs=kwargs):
                return self._call(name, args, bool(kwargs))
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
                return f"(CASE WHEN COALESCE({c}, FALSE) THEN {a} ELSE {b} END)"
        raise Unmappable(f"the expression `{type(expr).__name__}` has no Flink SQL form yet")

    def _call(self, name: str, args: tuple[Expr, ...], has_kwargs: bool) -> str:
        translate = FUNCTIONS.get(name)
        if translate is None:
            raise Unmappable(f"the function `{name}` has no Flink translation yet")
        if has_kwargs or (name in ONE_ARGUMENT_ONLY and len(args) > 1):
            raise Unmappable(f"`{name}` with these arguments has no Flink translation yet")
        return translate([self.compile(a) for a in args])

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
        if op == "%":
            return f"MOD({a}, {b})"
        if op in _ARITHMETIC:
            return f"({a} {op} {b})"
        if op == "/":
            return f"(CAST({a} AS DOUBLE) / {b})"
        raise Unmappable(f"the operator `{op}` has no Flink translation yet")

    def _membership(self, op: str, left: Expr, right: Expr) -> str:
        """`x in [literals]` as equalities that take null as a value, as rillet's `in` does;
        the literals must share one type (SQL compares no string with a number)."""
        items = right.items if isinstance(right, ListOf) else ()
        values = [i.value for i in items if isinstance(i, Lit)]
        kinds = {type(v) for v in values if v is not None}
        if not items or len(values) != len(items) or len(kinds) > 1:
            raise Unmappable("`in` maps to Flink only over a list of literals of one type")
        needle = self.compile(left)
        test = " OR ".join(_comparison("==", needle, literal(v)) for v in values)
        return f"({test})" if op == "in" else f"(NOT ({test}))"


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
