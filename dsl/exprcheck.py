"""Checking expressions: the type of each expression in a flow, and what is wrong inside it
(unknown fields and names, calls that do not fit their function, operators applied to the
wrong types). The flow checker (`flowcheck.py`) builds on it, handing it the record type in
effect at each operator as a `Scope`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rillet.runtime.plan import Span
from rillet.runtime.regex import Regex
from rillet.runtime.regex import problem as regex_problem

from . import ast
from .binder import bind
from .diagnostic import Diagnostic, Report, did_you_mean, error, warning
from .types import (
    NUMERIC,
    RecordType,
    annotation_type,
    annotation_types,
    arithmetic,
    comparable,
    describe,
    join,
)

if TYPE_CHECKING:
    from .checked import Draft


class Scope:
    """What names mean inside one expression: the record's fields and the params."""

    def __init__(
        self,
        record: RecordType,
        where: str,
        aggregates: bool = False,
        keys: frozenset[str] | None = None,
        in_aggregate: bool = False,
    ) -> None:
        self.record = record
        self.where = where
        self.aggregates = aggregates  # aggregate calls allowed here
        self.keys = keys  # inside `aggregate`: the fields usable outside aggregate calls
        self.in_aggregate = in_aggregate  # inside the arguments of an aggregate call


class ExpressionChecker:
    def __init__(self, checked: Draft, report: Report) -> None:
        self.c = checked
        self.report = report

    def argument(self, expr: ast.Expr, annotation, scope: Scope, what: str) -> None:
        t = self.expr(expr, scope)
        if annotation is Regex and isinstance(expr, ast.Literal) and expr.kind == "str":
            self._pattern(expr)
        accepted = annotation_types(annotation)
        if t in ("any", "null") or "any" in accepted or t in accepted:
            return
        wanted = " or ".join(sorted(accepted - {"null"})) or "null"
        self.report(error("E0302", f"{what} expects {wanted}, found {describe(t)}", expr.span))

    def expr(self, expr: ast.Expr, scope: Scope) -> str:  # noqa: C901 (one case per kind)
        """The expression's type; reports what is wrong inside it."""
        match expr:
            case ast.Literal(kind=kind):
                return "int" if kind == "duration" else kind
            case ast.NameRef():
                return self.name(expr, scope)
            case ast.This():
                return "record"
            case ast.FieldAccess():
                return self._field_access(expr, scope)
            case ast.IndexAccess():
                return self._index_access(expr, scope)
            case ast.CallExpr():
                return self.call(expr, scope)
            case ast.UnaryExpr(op="not", operand=operand):
                self.expr(operand, scope)
                return "bool"
            case ast.UnaryExpr(op="-", operand=operand):
                t = self.expr(operand, scope)
                if t not in (*NUMERIC, "any", "null"):
                    self.report(error("E0301", f"cannot negate {describe(t)}", expr.span))
                    return "any"
                return t
            case ast.BinaryExpr():
                return self.binary(expr, scope)
            case ast.MatchExpr():
                return self._match(expr, scope)
            case ast.IfExpr(cond=cond, then=then, other=other):
                self.expr(cond, scope)
                return join(self.expr(then, scope), self.expr(other, scope))
            case ast.ListExpr(items=items):
                for item in items:
                    self.expr(item, scope)
                return "list"
            case ast.RecordExpr(items=items):
                for entry in items:
                    self.expr(entry.value, scope)
                return "record"
        raise TypeError(f"unknown expression {expr!r}")

    def _field_access(self, expr: ast.FieldAccess, scope: Scope) -> str:
        t = self.expr(expr.target, scope)
        if t not in ("record", "any", "null"):
            what = f"cannot read field `{expr.name.text}` of {describe(t)}"
            self.report(error("E0303", what, expr.span))
        return "any"

    def _index_access(self, expr: ast.IndexAccess, scope: Scope) -> str:
        t, k = self.expr(expr.target, scope), self.expr(expr.key, scope)
        if t not in ("record", "list", "str", "any", "null"):
            self.report(error("E0303", f"cannot index {describe(t)}", expr.span))
        if t in ("list", "str") and k not in ("int", "any", "null"):
            what = f"a {t} index must be an int, found {describe(k)}"
            self.report(error("E0303", what, expr.key.span))
        return "str" if t == "str" else "any"

    def _match(self, expr: ast.MatchExpr, scope: Scope) -> str:
        t = self.expr(expr.operand, scope)
        if t not in ("str", "any", "null"):
            what = f"`=~` matches text, found {describe(t)}"
            self.report(error("E0301", what, expr.operand.span))
        self._pattern(expr.pattern)
        return "bool"

    def _pattern(self, pattern: ast.Literal) -> None:
        """A literal regular expression RE2 cannot run is refused here, not on every record."""
        refused = regex_problem(pattern.value)
        if refused is not None:
            self.report(
                error("E0304", refused.message, pattern.span, refused.label, *refused.hints)
            )

    def name(self, ref: ast.NameRef, scope: Scope) -> str:
        name = ref.name
        record = scope.record
        if name in self.c.params:
            if record.fields is not None and name in record.fields:
                self.report(
                    warning(
                        "W0004",
                        f"`{name}` is both a param and a field; the param is used here",
                        ref.span,
                        "the param",
                        f'read the field as `this["{name}"]`, or rename the param',
                    )
                )
            value = self.c.params[name]
            return {
                bool: "bool",
                int: "int",
                float: "float",
                str: "str",
                list: "list",
                dict: "record",
                type(None): "null",
            }.get(type(value), "any")
        if scope.keys is not None and name not in scope.keys and scope.aggregates:
            self.report(
                error(
                    "E0505",
                    f"field `{name}` must be inside an aggregate or be a key of `by`",
                    ref.span,
                    "not grouped",
                    f"for example `first({name})`",
                )
            )
            return "any"
        if record.fields is not None and name not in record.fields:
            self.report(unknown_field(name, ref.span, record, scope.where))
            return "any"
        return record.field_type(name)

    def binary(self, expr: ast.BinaryExpr, scope: Scope) -> str:
        op = expr.op
        left, right = self.expr(expr.left, scope), self.expr(expr.right, scope)
        if op in ("and", "or"):
            return "bool"
        if op == "??":
            return join(left, right) if left != "null" else right
        if op in ("in", "not_in"):
            if right not in ("list", "record", "str", "any", "null"):
                self.report(
                    error(
                        "E0301",
                        f"`in` needs a list, record or string on its right, "
                        f"found {describe(right)}",
                        expr.right.span,
                    )
                )
            return "bool"
        if op in ("==", "!=", "<", "<=", ">", ">="):
            if not comparable(op, left, right):
                self.report(
                    error(
                        "E0301",
                        f"cannot compare {describe(left)} with {describe(right)}",
                        expr.span,
                        f"`{op}` between these is always false"
                        if op in ("==", "!=")
                        else "they have no order between them",
                    )
                )
            return "bool"
        result = arithmetic(op, left, right)
        if result is None:
            self.report(
                error(
                    "E0301",
                    f"cannot apply `{op}` to {describe(left)} and {describe(right)}",
                    expr.span,
                )
            )
            return "any"
        return result

    def call(self, call: ast.CallExpr, scope: Scope) -> str:
        name = call.name.text
        registry = self.c.registry
        aggregate = registry.get("aggregate", name)
        if aggregate is not None:
            if scope.in_aggregate:
                self.report(
                    error(
                        "E0506",
                        f"aggregate `{name}` inside another aggregate",
                        call.span,
                        "aggregates cannot be nested",
                        "aggregate the field itself, or aggregate again in a second "
                        "`aggregate` downstream",
                    )
                )
                return "any"
            if not scope.aggregates:
                self.report(
                    error(
                        "E0506",
                        f"aggregate `{name}` is only allowed inside `aggregate {{ ... }}` "
                        "or `rolling ... { ... }`",
                        call.span,
                        "not allowed here",
                        "aggregates belong in `aggregate { ... }` or `rolling ... { ... }`",
                    )
                )
                return "any"
            inner = Scope(scope.record, scope.where, in_aggregate=True)
            self.arguments(call, aggregate.params, inner, f"aggregate `{name}`")
            return annotation_type(aggregate.returns)
        function = registry.get("function", name)
        if function is None:
            close = did_you_mean(
                name, registry.names("function") + registry.names("aggregate"), typo_only=True
            )
            if name == "env":  # read once, at check time: only where a constant goes
                self.report(
                    error(
                        "E0401",
                        f"unknown function `{name}`",
                        call.name.span,
                        "`env` is read where a constant goes, not per record",
                        'declare `param NAME = env("...")` and use the param here',
                    )
                )
            else:
                self.report(unknown_call("function", call.name, close))
            for value in [*call.args, *(kw.value for kw in call.kwargs)]:
                self.expr(value, scope)
            return "any"
        self.arguments(call, function.params, scope, f"function `{name}`")
        return annotation_type(function.returns)

    def arguments(self, call: ast.CallExpr, params, scope: Scope, what: str) -> None:
        """Each argument bound (`binder.py`) and of its parameter's type."""
        binding = bind(params, call.args, call.kwargs, what, call.span, self.report)
        for key, argument in binding.arguments.items():
            annotation = argument.param.annotation
            self.argument(argument.value, annotation, scope, f"argument `{key}` of {what}")
        for value in binding.stray:
            self.expr(value, scope)


def unknown_field(name: str, span: Span, record: RecordType, where: str) -> Diagnostic:
    assert record.fields is not None
    close = did_you_mean(name, record.fields)
    origin = f" ({record.origin})" if record.origin else ""
    if close:
        return error(
            "E0202",
            f"unknown field `{name}` in {where}",
            span,
            f"did you mean `{close}`?{origin}",
        )
    fields = ", ".join(record.fields) or "none"
    return error(
        "E0202",
        f"unknown field `{name}` in {where}",
        span,
        "not a field of the record",
        f"fields{origin}: {fields}",
    )


def unknown_call(kind: str, name: ast.Ident, close: str | None) -> Diagnostic:
    """A function or operator nobody provides: a typo gets its fix; any other name is most
    likely a plugin's that this pipeline cannot see yet, and the hint says how it would."""
    message = f"unknown {kind} `{name.text}`"
    if close is not None:
        return error("E0401", message, name.span, f"did you mean `{close}`?")
    return error(
        "E0401",
        message,
        name.span,
        "no installed or `use`d plugin provides it",
        f'a plugin\'s {kind}s come with `use "path/to/plugin.py"` or by installing its '
        "package; `rillet plugins FILE` lists those available",
    )
