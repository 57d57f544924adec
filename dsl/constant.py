"""Evaluating constant expressions: `param` values, connector arguments, `set` values and test
data. Constants may use literals, lists, records, params and arithmetic; never record fields."""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

from . import ast
from .diagnostic import Diagnostic, did_you_mean, error

_ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
               "//": operator.floordiv, "%": operator.mod}


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
                return -value
        case ast.BinaryExpr(op=op, left=left, right=right) if op in _ARITHMETIC:
            a, b = evaluate(left, params, what), evaluate(right, params, what)
            try:
                return _ARITHMETIC[op](a, b)
            except (TypeError, ZeroDivisionError) as e:
                raise NotConstant(error("E0202", f"cannot compute {what}: {e}", expr.span)) from e
    raise NotConstant(error("E0203", f"{what} must be a constant", expr.span,
                            "not a literal, list, record or param"))
