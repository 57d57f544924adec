"""Checking `alert` declarations: a known measure, compared with `>`, `>=`, `<` or `<=`, with
a threshold of the measure's kind."""

from __future__ import annotations

from rillet.runtime.plan import ALERT_MEASURES, Span

from . import ast
from .checked import Draft
from .diagnostic import Report, did_you_mean, error


def check_alerts(decls: list[ast.AlertDecl], draft: Draft, report: Report) -> None:
    first: dict[str, ast.AlertDecl] = {}
    for decl in decls:
        name = decl.name.text
        if name in first:
            report(
                error(
                    "E0101",
                    f"alert `{name}` is declared twice",
                    decl.name.span,
                    f"first declared on line {first[name].span.line}",
                )
            )
            continue
        first[name] = decl
        if _alert_fits(decl, report):
            draft.alerts.append(decl)


def _alert_fits(decl: ast.AlertDecl, report: Report) -> bool:
    measure, threshold = decl.measure.text, decl.threshold
    if measure not in ALERT_MEASURES:
        close = did_you_mean(measure, ALERT_MEASURES)
        label = f"did you mean `{close}`?" if close else "not a measure"
        report(
            error(
                "E0801",
                f"unknown measure `{measure}`",
                decl.measure.span,
                label,
                "measures: " + ", ".join(f"`{m}`" for m in ALERT_MEASURES),
            )
        )
        return False
    ok = True
    if decl.op not in (">", ">=", "<", "<="):
        span = _spanning(decl.measure.span, threshold.span)
        report(
            error(
                "E0802",
                f"an alert cannot compare with `{decl.op}`",
                span,
                "expected `>`, `>=`, `<` or `<=`",
                "an alert fires when a measure is above or below a threshold",
            )
        )
        ok = False
    unit, meaning = ALERT_MEASURES[measure]
    expected = {
        "share": ("percent", "a percentage like `80%`"),
        "duration": ("duration", "a duration like `2m`"),
        "number": ("number", "a number like `100`"),
    }[unit]
    if threshold.unit != expected[0]:
        report(
            error(
                "E0803",
                f"`{measure}` is compared with {expected[1]}",
                threshold.span,
                f"found `{threshold.text}`",
                f"`{measure}` is {meaning}",
            )
        )
        ok = False
    elif unit == "share" and threshold.value > 1:
        report(
            error(
                "E0804",
                f"`{threshold.text}` is more than 100%",
                threshold.span,
                f"`{measure}` is a share, at most 100%",
            )
        )
        ok = False
    return ok


def _spanning(first: Span, last: Span) -> Span:
    """From the start of `first` to the end of `last`."""
    return Span(first.line, first.col, last.end_line, last.end_col)
