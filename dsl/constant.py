"""Evaluating constant expressions: `param` values, connector arguments, `set` values and test
data. Constants may use literals, lists, records, params, arithmetic and `env("NAME")` (an
environment variable, read through `environment.py`); never record fields."""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from typing import Any

from rillet.runtime.expr import INT_MAX, INT_MIN
from rillet.runtime.plan import Span

from . import ast
from .diagnostic import Diagnostic, did_you_mean, error
from .environment import Environment
from .types import describe

_ARITHMETIC = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
}
# A constant string or list may not grow past this many characters or items (`"ab" * 10**12`
# would otherwise exhaust memory while the file is being checked).
MAX_CONSTANT_LENGTH = 1_000_000


class NotConstant(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def evaluate(
    expr: ast.Expr, params: Mapping[str, Any], what: str, env: Environment | None = None
) -> Any:
    """The value of a constant expression; `NotConstant` says why it is not one. `env()` reads
    `env` (no variables when None)."""
    env = env if env is not None else Environment()
    match expr:
        case ast.Literal(value=value):
            return value
        case ast.NameRef(name=name):
            if name in params:
                return params[name]
            close = did_you_mean(name, params)
            label = f"did you mean `{close}`?" if close else "not a declared `param`"
            hint = f"{what} must be constant: literals and params"
            raise NotConstant(
                error("E0201", f"unknown name `{name}` in {what}", expr.span, label, hint)
            )
        case ast.ListExpr(items=items):
            return [evaluate(i, params, what, env) for i in items]
        case ast.RecordExpr(items=items):
            return {i.key: evaluate(i.value, params, what, env) for i in items}
        case ast.CallExpr(name=ast.Ident(text="env")):
            return _env(expr, params, what, env)
        case ast.UnaryExpr(op="-", operand=operand):
            value = evaluate(operand, params, what, env)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return _int64(-value, "-", what, expr.span)
            raise NotConstant(
                error(
                    "E0204",
                    f"cannot compute {what}: cannot negate {describe(kind_of(value))}",
                    expr.span,
                )
            )
        case ast.BinaryExpr(op=op, left=left, right=right) if op in _ARITHMETIC:
            a, b = evaluate(left, params, what, env), evaluate(right, params, what, env)
            return _arithmetic(op, a, b, what, expr.span)
    raise NotConstant(
        error(
            "E0203",
            f"{what} must be a constant",
            expr.span,
            "not a literal, list, record, param or `env(...)`",
        )
    )


def _arithmetic(op: str, a: Any, b: Any, what: str, span: Span) -> Any:
    """`a op b` for constants, or why it cannot be computed."""
    if _length(a, op, b) > MAX_CONSTANT_LENGTH:
        raise NotConstant(
            error(
                "E0204",
                f"cannot compute {what}: the result would be too long",
                span,
                f"longer than {MAX_CONSTANT_LENGTH:,}",
            )
        )
    try:
        result = _ARITHMETIC[op](a, b)
    except TypeError as e:
        raise NotConstant(
            error(
                "E0204",
                f"cannot compute {what}: cannot apply `{op}` "
                f"to {describe(kind_of(a))} and {describe(kind_of(b))}",
                span,
            )
        ) from e
    except (ZeroDivisionError, OverflowError) as e:
        raise NotConstant(error("E0204", f"cannot compute {what}: {e}", span)) from e
    if isinstance(result, float) and not math.isfinite(result):
        raise NotConstant(
            error("E0204", f"cannot compute {what}: the result is too large for a number", span)
        )
    return _int64(result, op, what, span)


def _env(call: ast.CallExpr, params: Mapping[str, Any], what: str, env: Environment) -> Any:
    """`env("NAME")` or `env("NAME", default)`: the variable, as the default's type."""
    if call.kwargs or not 1 <= len(call.args) <= 2:
        raise NotConstant(
            error(
                "E0205",
                "`env` takes a variable's name and an optional default",
                call.span,
                'like `env("PG_URL")` or `env("BATCH", 1000)`',
            )
        )
    name = evaluate(call.args[0], params, what, env)
    if not isinstance(name, str) or not name:
        raise NotConstant(
            error(
                "E0205",
                "the name of an environment variable must be a non-empty string",
                call.args[0].span,
                f"found {describe(kind_of(name))}",
            )
        )
    default = [evaluate(a, params, what, env) for a in call.args[1:]]
    try:
        return env.read(name, *default)
    except KeyError:
        raise NotConstant(
            error(
                "E0206",
                f"environment variable `{name}` is not set",
                call.span,
                f"{what} reads it",
                f"set {name} in the environment of `rillet`, or give a default: "
                f'`env("{name}", ...)`',
            )
        ) from None
    except ValueError as e:
        raise NotConstant(
            error(
                "E0207",
                f"environment variable `{name}` does not fit its default",
                call.span,
                f"the default is {describe(kind_of(default[0]))}",
                str(e),
            )
        ) from None


def _int64(value: Any, op: str, what: str, span: Any) -> Any:
    """`value`, an int held to 64 bits as at run time (`runtime/expr.py`)."""
    if type(value) is int and not INT_MIN <= value <= INT_MAX:
        raise NotConstant(
            error(
                "E0204",
                f"cannot compute {what}: integer overflow",
                span,
                f"the result of `{op}` is outside the 64-bit range",
            )
        )
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


def kind_of(value: Any) -> str:
    """The expression type of a constant's value."""
    kinds = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "record"}
    return kinds.get(type(value), "null")
