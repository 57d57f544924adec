"""The streaming linter: warnings for pipelines that check but will misbehave as streams —
state that grows for as long as a live input runs, windows cut by arrival instead of event
time, late records dropped unseen, a lateness that outlasts its windows, a path weaker than the
`set delivery` it must give, bad records that stop a pipeline with a schema.

It runs last in the check (`checker.py`), on a program without errors, and reads only what the
check found: which inputs may never end (`endless.py`), the event time in effect at each
operator (`Draft.times`), the connectors' declared guarantees (`delivery.py`). Each warning
can be silenced on its line (`silence.py`); docs/language.md §11.4 explains every code.
"""

from __future__ import annotations

from . import ast
from .checked import Draft
from .diagnostic import Diagnostic, Report, warning
from .endless import endless_inputs, first_endless
from .pathlint import weak_paths
from .render import duration
from .silence import allow_hint
from .streamorder import flow_streams

_AGGREGATING = ast.AggregateOp | ast.TopOp | ast.RollingOp


def lint(c: Draft, report: Report) -> None:
    live = endless_inputs(c, undeclared=True)
    for flow in [*(s.flow for s in c.streams.values()), *c.flows]:
        culprit = first_endless(flow_streams(flow), live)
        for index, op in enumerate(flow.ops):
            after = flow.ops[index + 1] if index + 1 < len(flow.ops) else None
            before = flow.ops[index - 1] if index else None
            for problem in _operator(c, op, before, after, culprit):
                report(problem)
    for problem in _schemas_without_error_sink(c, live):
        report(problem)
    for problem in weak_paths(c):
        report(problem)


def _operator(
    c: Draft,
    op: ast.Operator,
    before: ast.Operator | None,
    after: ast.Operator | None,
    live: str | None,
) -> list[Diagnostic]:
    """The lints of one operator of a flow; `live`: a source of the flow that may never end."""
    time = c.times.get(op)
    found: list[Diagnostic] = []
    if isinstance(op, ast.WindowOp):
        if time is None and live is not None:
            found.append(_wall_clock_window(op, live))
        if time is not None and _too_late(op, time):
            found.append(_lateness_over_size(op, time))
    windowed = isinstance(before, ast.WindowOp) or isinstance(op, ast.RollingOp)
    if isinstance(op, ast.AggregateOp) and not windowed and live is not None:
        found.append(_global_aggregate(op, live))
    if isinstance(op, _AGGREGATING) and windowed and time is not None and live is not None:
        if not isinstance(after, ast.LateOp):
            found.append(_late_dropped(op, time, live))
    return found


def _too_late(op: ast.WindowOp, time: ast.EventTimeOp) -> bool:
    return op.kind != "session" and time.lateness is not None and time.lateness.ms > op.size.ms


def _global_aggregate(op: ast.AggregateOp, live: str) -> Diagnostic:
    keys = f"each `{', '.join(k.text for k in op.keys)}`" if op.keys else "the whole input"
    return warning(
        "W1001",
        f"an `aggregate` without a window keeps a group for {keys} until the input ends, "
        f"and source `{live}` may never end",
        op.span,
        "no window: emits nothing before the end of input",
        "put a window before it (`| window tumbling 1m`): it emits as event time passes and "
        "frees each window's groups",
        "for a running value per key, `rolling` (§4.5) emits with every record",
        allow_hint("W1001"),
    )


def _wall_clock_window(op: ast.WindowOp, live: str) -> Diagnostic:
    return warning(
        "W1002",
        f"this window on a live input (source `{live}`) has no event time, so it groups "
        "records by when they arrive",
        op.span,
        "processing-time window",
        "declare event time before it: `| event_time FIELD lateness DUR`; results then "
        "depend on the records, not on how fast or late they reach rillet",
        allow_hint("W1002"),
    )


def _late_dropped(op: ast.Operator, time: ast.EventTimeOp, live: str) -> Diagnostic:
    kind = "rolling" if isinstance(op, ast.RollingOp) else "window"
    lateness = duration(time.lateness.ms) if time.lateness is not None else "0ms"
    return warning(
        "W1003",
        f"records later than `lateness {lateness}` (line {time.span.line}) are dropped by this "
        f"{kind}, and source `{live}` is live",
        op.span,
        "no `late into` after it",
        "add `| late into SINK` on the next line to keep them; the run summary counts them "
        "either way (`late N`)",
        allow_hint("W1003"),
    )


def _lateness_over_size(op: ast.WindowOp, time: ast.EventTimeOp) -> Diagnostic:
    assert time.lateness is not None
    lateness, size = duration(time.lateness.ms), duration(op.size.ms)
    return warning(
        "W1004",
        f"`lateness {lateness}` (line {time.span.line}) is longer than this {size} window",
        op.size.span,
        f"each window waits {lateness} after it ends",
        f"every key keeps about {time.lateness.ms // op.size.ms + 1} windows open at once, "
        f"and each result comes {lateness} after its window ends",
        "a lateness up to the window size is usually enough; send what is later `late into` a sink",
        allow_hint("W1004"),
    )


def _schemas_without_error_sink(c: Draft, live: dict[str, str]) -> list[Diagnostic]:
    """On a live input a bad record is a poison pill: it stops the run, and a resumed run
    goes back to the last checkpoint, reads it again and stops again."""
    if c.error_sink is not None:
        return []
    found = []
    for name, (decl, _) in c.sources.items():
        if decl.schema is None or name not in live:
            continue
        found.append(
            warning(
                "W1006",
                f"a record of live source `{name}` that does not fit schema `{decl.schema.text}` "
                "stops the run, and every resumed run, since there is no `errors into`",
                decl.schema.span,
                "a bad record stops the run (exit code 1)",
                "a resumed run goes back to the last checkpoint and reads the bad record again",
                "add `errors into SINK` to send bad records to a sink and keep going (§10)",
                allow_hint("W1006"),
            )
        )
    return found


__all__ = ["lint"]
