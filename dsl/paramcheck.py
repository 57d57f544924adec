"""Checking `param` and `set` declarations: each param's value (a `-p` override replacing it
where it is declared) and each setting's kind and range."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from rillet.runtime.plan import Settings

from . import ast
from .checked import Draft
from .constant import NotConstant, evaluate
from .diagnostic import Report, did_you_mean, error
from .environment import parse_param_value

SETTINGS = {
    "batch_size": ("records per micro-batch", "int"),
    "batch_timeout": ("how long a partial batch may wait", "duration"),
    "channel_capacity": ("batches a channel holds", "int"),
    "checkpoint_interval": ("time between checkpoints", "duration"),
    "delivery": ("the guarantee every path from a source to a sink must give", "delivery"),
    "max_drift": ("how far in event time a source may run ahead of one it meets", "duration"),
}
DELIVERIES = ("exactly-once", "at-least-once", "at-most-once")


def check_params(
    decls: list[ast.ParamDecl], draft: Draft, overrides: Mapping[str, str], report: Report
) -> None:
    """Params in order; a `-p` override replaces the value where the param is declared, so
    the params after it that use it see the override."""
    params = draft.params
    first: dict[str, ast.ParamDecl] = {}
    for decl in decls:
        name = decl.name.text
        if name in first:
            report(
                error(
                    "E0101",
                    f"param `{name}` is declared twice",
                    decl.name.span,
                    f"first declared on line {first[name].span.line}",
                )
            )
            continue
        first[name] = decl
        try:
            params[name] = evaluate(decl.value, params, f"param `{name}`", draft.env)
        except NotConstant as e:
            # `-p` replaces a default read from an unset variable: `env("PG_URL")` is a str
            if not (name in overrides and e.diagnostic.code == "E0206"):
                report(e.diagnostic)
            params[name] = None
        if name in overrides:
            _override(decl, overrides[name], draft, report)
    for name in overrides:
        if name not in params:
            close = did_you_mean(name, params)
            declared = ", ".join(f"`{p}`" for p in params) or "none"
            hint = f"did you mean `{close}`?" if close else f"declared params: {declared}"
            report(
                error(
                    "E0102",
                    f"unknown param `{name}` given with `-p {name}=...`",
                    None,
                    "",
                    hint,
                )
            )


def _override(decl: ast.ParamDecl, text: str, draft: Draft, report: Report) -> None:
    params, name = draft.params, decl.name.text
    try:
        params[name] = parse_param_value(text, params[name])
    except ValueError as e:
        kind = {
            bool: "a bool",
            int: "an int",
            float: "a float",
            list: "a list",
            dict: "a record",
            str: "a str",
        }.get(type(params[name]), "null")
        report(
            error(
                "E0103",
                f"`-p {name}={text}` does not fit param `{name}`",
                decl.value.span,
                f"`{name}` is {kind}",
                str(e),
            )
        )


def check_settings(decls: list[ast.SetDecl], draft: Draft, report: Report) -> None:
    values: dict[str, int] = {}
    for decl in decls:
        name = decl.name.text
        if name not in SETTINGS:
            close = did_you_mean(name, SETTINGS)
            label = f"did you mean `{close}`?" if close else "not a setting"
            report(
                error(
                    "E0104",
                    f"unknown setting `{name}`",
                    decl.name.span,
                    label,
                    "settings: " + ", ".join(f"`{s}`" for s in SETTINGS),
                )
            )
            continue
        meaning, kind = SETTINGS[name]
        value = decl.value
        is_duration = isinstance(value, ast.Literal) and value.kind == "duration"
        if kind == "duration" and not is_duration:
            report(
                error(
                    "E0105",
                    f"`{name}` is a duration ({meaning})",
                    value.span,
                    "expected a duration like `200ms` or `10s`",
                )
            )
            continue
        try:
            number = evaluate(value, draft.params, f"setting `{name}`", draft.env)
        except NotConstant as e:
            report(e.diagnostic)
            continue
        if kind == "delivery":
            _delivery(decl, number, draft, report)
            continue
        if kind == "int" and (
            not isinstance(number, int) or isinstance(number, bool) or number <= 0
        ):
            found = msgspec.json.encode(number).decode()
            report(
                error(
                    "E0105",
                    f"`{name}` is a positive whole number ({meaning})",
                    value.span,
                    f"found {found}",
                )
            )
            continue
        values[name] = number
    default = Settings()
    draft.settings = Settings(
        batch_size=values.get("batch_size", default.batch_size),
        batch_timeout_ms=values.get("batch_timeout", default.batch_timeout_ms),
        channel_capacity=values.get("channel_capacity", default.channel_capacity),
        checkpoint_interval_ms=values.get("checkpoint_interval", default.checkpoint_interval_ms),
        max_drift_ms=values.get("max_drift", default.max_drift_ms),
    )


def _delivery(decl: ast.SetDecl, value: object, draft: Draft, report: Report) -> None:
    """`set delivery` runs nothing: it is what the author needs, and the linter warns of each
    path that gives less (`W1005`)."""
    if value in DELIVERIES:
        draft.delivery = str(value)
        return
    report(
        error(
            "E0105",
            "`delivery` is one of " + ", ".join(f'`"{d}"`' for d in DELIVERIES),
            decl.value.span,
            f"found {msgspec.json.encode(value).decode()}",
        )
    )
