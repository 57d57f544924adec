"""Binding a call's arguments to the parameters of what it calls (a connector, a function, an
aggregate, a plugin operator): the one place that reports too many positional arguments
(E0402), an unknown argument (E0403), one given twice (E0404) and a missing one (E0405). What
each bound argument must be (a constant, of a type, valid for a config) its caller checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from rillet.runtime.plan import Span
from rillet.runtime.plugin import Param

from . import ast
from .diagnostic import Report, did_you_mean, error


class Argument(NamedTuple):
    param: Param
    value: ast.Expr
    written: ast.Node
    """Where it was written: the expression, or the whole `name=value`."""


class Binding(NamedTuple):
    arguments: dict[str, Argument]
    """Each argument given, under its parameter's name, in the order of the call."""
    stray: list[ast.Expr]
    """Values bound to no parameter: still worth checking for mistakes of their own."""
    ok: bool


def bind(
    params: Sequence[Param],
    args: Sequence[ast.Expr],
    kwargs: Sequence[ast.KeywordArg],
    what: str,
    span: Span,
    report: Report,
    positional: bool = True,
) -> Binding:
    """Positional arguments first (when `positional`), then keyword arguments; every problem
    reported. `what` names the callee in messages: "`file`", "function `lower`"."""
    bound: dict[str, Argument] = {}
    stray: list[ast.Expr] = []
    ok = True
    taken = len(params) if positional else 0
    if len(args) > taken:
        ok = False
        stray += args[taken:]
        if positional:
            message, label = f"{what} takes at most {taken} positional arguments", "one too many"
        else:
            message, label = f"{what} takes keyword arguments only", "write `name=value`"
        report(error("E0402", message, args[taken].span, label))
    for param, arg in zip(params, args[:taken]):
        bound[param.name] = Argument(param, arg, arg)
    by_name = {p.name: p for p in params}
    for kw in kwargs:
        key = kw.name.text
        param = by_name.get(key)
        if param is None:
            ok = False
            stray.append(kw.value)
            close = did_you_mean(key, by_name)
            label = f"did you mean `{close}`?" if close else "no such argument"
            takes = ", ".join(by_name) or "no arguments"
            report(
                error(
                    "E0403",
                    f"unknown argument `{key}` for {what}",
                    kw.name.span,
                    label,
                    f"{what} takes: {takes}",
                )
            )
        elif key in bound:
            ok = False
            stray.append(kw.value)
            report(error("E0404", f"argument `{key}` of {what} given twice", kw.name.span))
        else:
            bound[key] = Argument(param, kw.value, kw)
    for param in params:
        if param.required and param.name not in bound:
            ok = False
            key = param.name
            report(error("E0405", f"{what} needs argument `{key}`", span, f"missing `{key}`"))
    return Binding(bound, stray, ok)


__all__ = ["Argument", "Binding", "bind"]
