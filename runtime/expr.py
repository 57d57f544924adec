"""Expressions of the plan IR turned into Python source, compiled once per stage.

The generated code keeps the language's null rules without a per-value interpreter: a missing
field reads as null, arithmetic on null gives null, an ordering comparison with null is false.
Literals go through `repr` (int, float, str, bool, None) or into the namespace as constants, and
field names through `repr`, so no user text is ever pasted into code unescaped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from .plan import (
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
from .regex import searcher


class ExprError(Exception):
    """A record made an expression fail (a type mismatch, division by zero, ...)."""


_PYTHON_TYPE_ERRORS = (
    (
        re.compile(r"unsupported operand type\(s\) for (\S+): '(\w+)' and '(\w+)'"),
        "cannot apply `{0}` to {1} and {2}",
    ),
    (
        re.compile(r"'(\S+)' not supported between instances of '(\w+)' and '(\w+)'"),
        "cannot compare {1} with {2} using `{0}`",
    ),
    (
        re.compile(r'can only concatenate (\w+) \(not "(\w+)"\) to \w+'),
        "cannot apply `+` to {0} and {1}",
    ),
    (re.compile(r"bad operand type for unary -: '(\w+)'"), "cannot negate a {0}"),
)
_TYPE_NAMES = {"NoneType": "null", "dict": "record"}


def describe_error(error: BaseException) -> str:
    """An expression's failure in the language's words rather than Python's."""
    if isinstance(error, ZeroDivisionError):
        return "division by zero"
    message = str(error)
    for pattern, template in _PYTHON_TYPE_ERRORS:
        match = pattern.fullmatch(message)
        if match:
            return template.format(*(_TYPE_NAMES.get(g, g) for g in match.groups()))
    return message


def read_path(value: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ExprError(f"cannot read field `{key}` of a {type(value).__name__} value")
        value = value.get(key)
    return value


def read_index(value: Any, key: Any) -> Any:
    if value is None or key is None:
        return None
    if isinstance(value, dict):
        return value.get(key)
    if isinstance(value, list | str):
        if not isinstance(key, int) or isinstance(key, bool):
            raise ExprError(f"a {type(value).__name__} index must be an int, got {key!r}")
        return value[key] if -len(value) <= key < len(value) else None
    raise ExprError(f"cannot index a {type(value).__name__} value")


def contains(container: Any, value: Any) -> bool:
    if container is None:
        return False
    if not isinstance(container, list | dict | str):
        raise ExprError(f"`in` needs a list, record or string, got {type(container).__name__}")
    if value is None and isinstance(container, str):
        return False  # Python raises here; null is in no string
    return value in container


INT_MIN, INT_MAX = -(2**63), 2**63 - 1
"""The language's ints are 64-bit: a schema's `int` fields are held to this range, and an
arithmetic result outside it is an error rather than a silently wider Python int."""


def overflow(op: str) -> None:
    """Raised from generated code when `op` gives an int outside 64 bits."""
    raise ExprError(f"integer overflow: the result of `{op}` is outside the 64-bit range")


_ARITHMETIC = {"+", "-", "*", "/", "//", "%"}
_CAN_OVERFLOW = {"+", "-", "*", "//"}
"""`/` gives a float; `%` of in-range ints is smaller than its divisor."""
_ORDERING = {"<", "<=", ">", ">="}
_SIMPLE_LITERALS = (bool, int, str, type(None))
_EXPRESSIONS = (Lit, Field, Index, Call, Binary, Unary, Match, IfElse, ListOf, RecordOf)


class ExprCompiler:
    """Turns IR expressions into Python expression source over a record variable.

    Shared by all expressions of one stage: constants, regexes and functions land in
    `namespace`, which becomes the generated function's globals.
    """

    def __init__(self, functions: dict[str, Callable[..., Any]]) -> None:
        self.functions = functions
        self.namespace: dict[str, Any] = {
            "_read_path": read_path,
            "_read_index": read_index,
            "_contains": contains,
            "_overflow": overflow,
            "ExprError": ExprError,
        }
        self._counter = 0
        self.present: frozenset[str] = frozenset()
        """Fields known to be present and non-null in the record being compiled (a schema's
        required fields): read by subscript, with no null check."""
        self.struct: tuple[str, dict[str, str]] | None = None
        """The variable holding a typed record (a Struct), and each field's attribute on it."""

    def _fresh(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter}"

    def constant(self, value: Any) -> str:
        if isinstance(value, _SIMPLE_LITERALS) or (
            isinstance(value, float) and math.isfinite(value)
        ):
            return repr(value)
        name = self._fresh("_c")
        self.namespace[name] = value
        return name

    def compile(self, expr: Expr, rec: str) -> str:
        match expr:
            case Lit(value=value):
                return self.constant(value)
            case Field(path=path):
                return self._field(path, rec)
            case Index(target=target, key=key):
                source = rec if target == Field(()) else self.compile(target, rec)
                return f"_read_index({source}, {self.compile(key, rec)})"
            case Call(name=name, args=args, kwargs=kwargs):
                fn = self._fresh("_f")
                self.namespace[fn] = self.functions[name]
                parts = [self.compile(a, rec) for a in args]
                if kwargs:  # names as string keys: a keyword is never pasted in as code
                    items = ", ".join(f"{k!r}: {self.compile(v, rec)}" for k, v in kwargs)
                    parts.append(f"**{{{items}}}")
                return f"{fn}({', '.join(parts)})"
            case Unary(op="not", operand=operand):
                return f"(not {self.compile(operand, rec)})"
            case Unary(op="-", operand=operand):
                t = self._fresh("_t")
                negated = self._int64(f"-{t}", "-")
                return f"(None if ({t} := {self.compile(operand, rec)}) is None else {negated})"
            case Binary(op=op, left=left, right=right):
                return self._binary(op, left, right, rec)
            case Match(operand=operand, pattern=pattern):
                rx = self._fresh("_re")
                self.namespace[rx] = searcher(pattern)  # RE2: linear in the text
                value = self.compile(operand, rec)
                if self._non_null(operand):
                    return f"{rx}({value})"
                t = self._fresh("_t")
                return f"(({t} := {value}) is not None and {rx}({t}))"
            case IfElse(cond=cond, then=then, other=other):
                c, a, b = (self.compile(e, rec) for e in (cond, then, other))
                return f"({a} if {c} else {b})"
            case ListOf(items=items):
                return "[" + ", ".join(self.compile(i, rec) for i in items) + "]"
            case RecordOf(items=items):
                body = ", ".join(f"{k!r}: {self.compile(v, rec)}" for k, v in items)
                return "{" + body + "}"
        raise TypeError(f"not an expression: {expr!r}")

    def _field(self, path: tuple[str, ...], rec: str) -> str:
        if not path:
            # a snapshot: `derive copy = this` must not hold the record being built (a cycle)
            return f"dict({rec})"
        key, *rest = path
        if self.struct is not None and rec == self.struct[0]:
            attribute = self.struct[1].get(key)
            if attribute is None:  # a field its schema does not declare: always null
                return "None"
            return (
                f"_read_path({rec}.{attribute}, {tuple(rest)!r})" if rest else f"{rec}.{attribute}"
            )
        if not rest:
            return f"{rec}[{key!r}]" if key in self.present else f"{rec}.get({key!r})"
        return f"_read_path({rec}, {path!r})"

    def _binary(self, op: str, left: Expr, right: Expr, rec: str) -> str:
        if op in ("and", "or"):
            return f"bool({self.compile(left, rec)} {op} {self.compile(right, rec)})"
        if op == "??":
            t = self._fresh("_t")
            a, b = self.compile(left, rec), self.compile(right, rec)
            return f"({t} if ({t} := {a}) is not None else {b})"
        if op in ("in", "not_in"):
            return self._membership(op, left, right, rec)
        if op in ("==", "!="):
            return f"({self.compile(left, rec)} {op} {self.compile(right, rec)})"
        if op in _ARITHMETIC or op in _ORDERING:
            return self._null_guarded(op, left, right, rec)
        raise TypeError(f"unknown operator {op!r}")

    def reads_whole_record(self, expr: Expr) -> bool:
        """Whether `expr` uses the record itself (`this`), not only its fields."""
        if isinstance(expr, Field):
            return expr.path == ()
        if isinstance(expr, Index) and expr.target == Field(()):
            return True
        return any(self.reads_whole_record(value) for value in _subexpressions(expr))

    def called(self, expr: Expr) -> set[str]:
        """The names of the functions `expr` calls."""
        names = {expr.name} if isinstance(expr, Call) else set()
        return names.union(*(self.called(value) for value in _subexpressions(expr)))

    def is_present(self, expr: Expr) -> bool:
        """Whether `expr` reads a field known to be present and non-null."""
        return isinstance(expr, Field) and len(expr.path) == 1 and expr.path[0] in self.present

    def _non_null(self, expr: Expr) -> bool:
        return (isinstance(expr, Lit) and expr.value is not None) or self.is_present(expr)

    def _int64(self, code: str, op: str) -> str:
        """`code` (an arithmetic result over plain operands), checked to fit 64 bits when it is
        an int: a type test and a comparison, about 25 ns, where a call would cost twice that.
        A conditional without brackets of its own, so that checking adds no nesting: Python's
        parser takes at most 200 nested brackets (`parser.MAX_NESTING`)."""
        r = self._fresh("_r")
        return (
            f"{r} if type({r} := {code}) is not int or {INT_MIN} <= {r} <= {INT_MAX} "
            f"else _overflow({op!r})"
        )

    def _null_guarded(self, op: str, left: Expr, right: Expr, rec: str) -> str:
        """`a OP b`, null when either side is null (arithmetic) or false (ordering)."""
        operands, checks = [], []
        for side in (left, right):
            code = self.compile(side, rec)
            if self._non_null(side):
                operands.append(code)
                continue
            t = self._fresh("_t")
            checks.append(f"({t} := {code}) is None")
            operands.append(t)
        body = f"{operands[0]} {op} {operands[1]}"
        if op in _CAN_OVERFLOW:
            body = self._int64(body, op)
        if not checks:
            return f"({body})"
        null_result = "None" if op in _ARITHMETIC else "False"
        return f"({null_result} if {' or '.join(checks)} else {body})"

    def _membership(self, op: str, left: Expr, right: Expr, rec: str) -> str:
        needle = self.compile(left, rec)
        if isinstance(right, ListOf) and all(isinstance(i, Lit) for i in right.items):
            values = self.constant(tuple(i.value for i in right.items))  # type: ignore[union-attr]
            return f"({needle} {'in' if op == 'in' else 'not in'} {values})"
        test = f"_contains({self.compile(right, rec)}, {needle})"
        return test if op == "in" else f"(not {test})"


def _subexpressions(expr: Expr) -> list[Expr]:
    found: list[Expr] = []
    for name in expr.__struct_fields__:
        value = getattr(expr, name)
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if isinstance(item, tuple):  # (name, expr) pairs of keyword arguments and records
                item = item[-1]
            if isinstance(item, _EXPRESSIONS):
                found.append(item)
    return found
