"""Evaluating constant expressions: `param` values, connector arguments, `set` values and test
data. Constants may use literals, lists, records, params and arithmetic; never record fields."""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from typing import Any

from rillet.runtime.expr import INT_MAX, INT_MIN

from . import ast
from .diagnostic import Diagnostic, did_you_mean, error
from .types import describe

_ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
               "//": operator.floordiv, "%": operator.mod}
# A constant string or list may not grow past this many characters or items (`"ab" * 10**12`
# would otherwise exhaust memory while the file is being checked).
MAX_CONSTANT_LENGTH = 1_000_000


class NotConstant(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def evaluate(expr: ast.Expr, params: Mapping[str, Any], what: str) -> Any:
    """The value of a constant expression; `NotConstant` says why it is not one."""
    match expr:
        case ast.Literal(value=value):
            return value
        case ast.NameRef(name=name):
            if name in params:
                return params[name]
            close = did_you_mean(name, params)
            label = f"did you mean `{close}`?" if close else "not a declared `param`"
            raise NotConstant(error("E0201", f"unknown name `{name}` in {what}", expr.span,
                                    label, f"{what} must be constant: literals and params"))
        case ast.ListExpr(items=items):
            return [evaluate(i, params, what) for i in items]
        case ast.RecordExpr(items=items):
            return {i.key: evaluate(i.value, params, what) for i in items}
        case ast.UnaryExpr(op="-", operand=operand):
            value = evaluate(operand, params, what)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return _int64(-value, "-", what, expr.span)
            raise NotConstant(error("E0204", f"cannot compute {what}: cannot negate "
                                    f"{describe(_kind(value))}", expr.span))
        case ast.BinaryExpr(op=op, left=left, right=right) if op in _ARITHMETIC:
            a, b = evaluate(left, params, what), evaluate(right, params, what)
            if _length(a, op, b) > MAX_CONSTANT_LENGTH:
                raise NotConstant(error("E0204", f"cannot compute {what}: the result would be "
                                        "too long", expr.span,
                                        f"longer than {MAX_CONSTANT_LENGTH:,}"))
            try:
                result = _ARITHMETIC[op](a, b)
            except TypeError as e:
                raise NotConstant(error("E0204", f"cannot compute {what}: cannot apply `{op}` "
                                        f"to {describe(_kind(a))} and {describe(_kind(b))}",
                                        expr.span)) from e
            except (ZeroDivisionError, OverflowError) as e:
                raise NotConstant(error("E0204", f"cannot compute {what}: {e}", expr.span)) from e
            if isinstance(result, float) and not math.isfinite(result):
                raise NotConstant(error("E0204", f"cannot compute {what}: the result is too "
                                        "large for a number", expr.span))
            return _int64(result, op, what, expr.span)
    raise NotConstant(error("E0203", f"{what} must be a constant", expr.span,
                            "not a literal, list, record or param"))


def _int64(value: Any, op: str, what: str, span: Any) -> Any:
    """`value`, an int held to 64 bits as at run time (`runtime/expr.py`)."""
    if type(value) is int and not INT_MIN <= value <= INT_MAX:
        raise NotConstant(error("E0204", f"cannot compute {what}: integer overflow", span,
                                f"the result of `{op}` is outside the 64-bit range"))
    return value


def _length(a: Any, op: str, b: Any) -> int:
    """The length of `a op b` when it makes a string or a list, else 0."""
    sized = (str, list)
    if op == "+" and isinstance(a, sized) and isinstance(b, sized):
        return len(a) + len(b)
    if op == "*":
        for seq, times in ((a, b), (b, a)):
            if isinstance(seq, sized) and isinstance(times, int):
                return len(seq) * max(times, 0)
    return 0


def _kind(value: Any) -> str:
    """The expression type of a constant's value, for messages."""
    kinds = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "record"}
    return kinds.get(type(value), "null")
