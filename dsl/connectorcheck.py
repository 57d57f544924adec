"""Checking a connector call (`file("in.jsonl", format="csv")`): the connector exists for its
kind, its arguments bind to its parameters (positional, then by name), each is a constant, and
together they convert to the connector's config Struct. One binder for every connector."""

from __future__ import annotations

import json
import typing
from typing import Any

import msgspec

from rillet.runtime.plugin import Kind, Registry, Spec
from rillet.runtime.registry import missing

from . import ast
from .binder import bind
from .constant import NotConstant, evaluate
from .diagnostic import Report, did_you_mean, error
from .environment import Environment


class ConnectorArguments:
    def __init__(
        self,
        registry: Registry,
        params: dict[str, Any],
        env: Environment,
        report: Report,
    ) -> None:
        self.registry = registry
        self.params = params
        self.env = env
        self.report = report

    def config(self, call: ast.ConnectorCall, kind: Kind) -> dict[str, Any] | None:
        """The connector's arguments as its config takes them, or None (each problem reported)."""
        name = call.name.text
        spec = self.registry.written(kind, name)
        if spec is None:
            others = [k for k in ("source", "sink", "table") if self.registry.written(k, name)]
            if others:
                label = f"`{name}` is a {' and a '.join(others)} connector, not a {kind}"
            else:
                close = did_you_mean(name, self.registry.names(kind))
                label = f"did you mean `{close}`?" if close else f"not a {kind} connector"
            self.report(
                error(
                    "E0401",
                    f"unknown {kind} connector `{name}`",
                    call.name.span,
                    label,
                    f"{kind} connectors: " + ", ".join(self.registry.names(kind)),
                )
            )
            return None
        install = missing(spec)
        if install is not None:
            module = spec.needs[0] if spec.needs else ""
            self.report(
                error(
                    "E0408",
                    f"{kind} connector `{name}` needs the Python package `{module}`, which is "
                    "not installed",
                    call.name.span,
                    "not installed",
                    f"pip install '{install}'",
                )
            )
            return None
        return self._arguments(call, spec)

    def _arguments(self, call: ast.ConnectorCall, spec: Spec) -> dict[str, Any] | None:
        """The arguments bound (`binder.py`), evaluated and validated against the config."""
        what = f"`{spec.name}`"
        binding = bind(spec.params, call.args, call.kwargs, what, call.span, self.report)
        ok = binding.ok
        evaluated: dict[str, Any] = {}
        for key, argument in binding.arguments.items():
            try:
                evaluated[key] = evaluate(
                    argument.value, self.params, f"argument `{key}`", self.env
                )
            except NotConstant as e:
                self.report(e.diagnostic)
                ok = False
        written = {key: argument.written for key, argument in binding.arguments.items()}
        if ok and self._valid(evaluated, written, call, spec):
            return evaluated
        return None

    def _valid(
        self,
        evaluated: dict[str, Any],
        spans: dict[str, ast.Node],
        call: ast.ConnectorCall,
        spec: Spec,
    ) -> bool:
        """Whether the arguments' values convert to the connector's config; reports why not."""
        assert spec.config is not None
        try:
            msgspec.convert(evaluated, spec.config)
        except msgspec.ValidationError as e:
            message = str(e)
            at = next((k for k in spans if f"`$.{k}`" in message), None)
            span = spans[at].span if at else call.span
            detail = message.split(" - at ")[0]
            label = detail[0].lower() + detail[1:]
            choices = _choices(spec, at)
            value = evaluated.get(at) if at is not None else None
            if choices and isinstance(value, str | int | float | bool | None):
                label = f"expected one of {choices}, found {json.dumps(value)}"
            where = f" `{at}`" if at else ""
            self.report(error("E0406", f"invalid argument{where} for `{spec.name}`", span, label))
            return False
        return True


def argument_node(call: ast.ConnectorCall, spec: Spec, key: str) -> ast.Node:
    """The expression given for argument `key`, positional or by name."""
    index = [p.name for p in spec.params].index(key)
    if index < len(call.args):
        return call.args[index]
    return next((kw.value for kw in call.kwargs if kw.name.text == key), call)


def _choices(spec: Spec, key: str | None) -> str:
    """`"jsonl", "csv" or "lines"` when argument `key` takes one of fixed strings, else ""."""
    param = next((p for p in spec.params if p.name == key), None)
    if param is None:
        return ""
    values = [a for a in typing.get_args(param.annotation) if isinstance(a, str)]
    if typing.get_origin(param.annotation) is not typing.Literal or not values:
        return ""
    quoted = [json.dumps(v) for v in values]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1] if len(quoted) > 1 else quoted[0]
