"""Checking a plugin operator's call: a name some plugin provides, keyword arguments bound to
its parameters, each a constant of its parameter's type, evaluated once, here (the planner
hands the values to the operator, before any record). The records after it have the fields its
return annotation declares (`runtime/recordtype.py`), or any fields when it declares none."""

from __future__ import annotations

from rillet.runtime.recordtype import declared_class, record_fields

from . import ast
from .binder import Argument, bind
from .constant import NotConstant, evaluate, kind_of
from .diagnostic import did_you_mean, error
from .exprcheck import ExpressionChecker, Scope, unknown_call
from .types import RecordType, annotation_spec

OPERATOR_NAMES = {
    ast.WhereOp: "where",
    ast.SelectOp: "select",
    ast.DeriveOp: "derive",
    ast.DropOp: "drop",
    ast.ExplodeOp: "explode",
    ast.EventTimeOp: "event_time",
    ast.WindowOp: "window",
    ast.AggregateOp: "aggregate",
    ast.RollingOp: "rolling",
    ast.TopOp: "top",
    ast.DedupeOp: "dedupe",
    ast.JoinOp: "join",
    ast.LookupOp: "lookup",
    ast.LateOp: "late into",
    ast.IntoOp: "into",
    ast.EmitOp: "emit every",
}
"""The built-in operators by node, as written; a plugin operator is named otherwise."""


class PluginOperatorChecker(ExpressionChecker):
    def plugin_operator(self, op: ast.PluginOp) -> RecordType:
        """The call checked; the type of the records it returns."""
        spec = self.c.registry.get("operator", op.name.text)
        if spec is None:
            known = self.c.registry.names("operator") + list(OPERATOR_NAMES.values())
            close = did_you_mean(op.name.text, known, typo_only=True)
            self.report(unknown_call("operator", op.name, close))
            return RecordType()
        if op.concurrency is not None and op.concurrency < 1:
            self.report(
                error(
                    "E0407", "`concurrency` must be at least 1", op.span, f"found {op.concurrency}"
                )
            )
        what = f"operator `{op.name.text}`"
        binding = bind(spec.params, op.args, op.kwargs, what, op.span, self.report, False)
        for key, argument in binding.arguments.items():
            self._plugin_argument(op, key, argument)
        declared = declared_class(spec.returns)
        if declared is None:
            return RecordType()
        fields = {k: annotation_spec(v) for k, v in record_fields(declared).items()}
        return RecordType(fields, f"`{op.name.text}` returns `{declared.__name__}`")

    def _plugin_argument(self, op: ast.PluginOp, key: str, argument: Argument) -> None:
        """A plugin operator's argument is a constant of its parameter's type, evaluated once
        here: the planner hands it over to the operator, before any record."""
        what = f"argument `{key}` of operator `{op.name.text}`"
        try:
            value = evaluate(argument.value, self.c.params, what, self.c.env)
        except NotConstant as e:
            self.report(e.diagnostic)
            return
        self.c.plugin_arguments.setdefault(op, {})[key] = value
        constant = ast.Literal(value=value, kind=kind_of(value), span=argument.value.span)
        scope = Scope(RecordType(), "operator arguments")
        self.argument(constant, argument.param.annotation, scope, what)
