"""`rolling` as a Flink OVER aggregation: `rolling 10m by k` is `OVER (PARTITION BY k ORDER BY
rowtime RANGE BETWEEN INTERVAL '10' MINUTE PRECEDING AND CURRENT ROW)`, `rolling last N` the
`ROWS BETWEEN N-1 PRECEDING AND CURRENT ROW` frame. Both engines hold a record until the
watermark passes its time and compute it over its frame, ties of a RANGE frame included.

Late records: rillet drops a record below the horizon (the newest time minus the lateness);
Flink's OVER operator drops one only when its key has already emitted that time. A filter on
`CURRENT_WATERMARK` before it drops exactly rillet's late records (the watermark is the
newest time minus the lateness minus 1 ms, `connectors.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rillet.runtime.plan import Call, Node, Plan, Rolling

from .aggsql import AggregateExpr
from .coltypes import Types
from .connectors import ROWTIME, interval
from .order import require_file_order
from .sqlexpr import Env, Unmappable, ident

if TYPE_CHECKING:
    from .translate import View

_WINDOW = "w"


class OverExpr(AggregateExpr):
    """A `rolling` item: each aggregate call over the named window `w`. Flink's OVER
    aggregation takes SQL's aggregate functions only, so the aggregates that have none of the
    same meaning (rillet's Python classes in a `window`) do not map."""

    def _aggregate(self, call: Call) -> str:
        a = [self.inner.compile(x) for x in call.args]
        over = f"OVER {_WINDOW}"
        match call.name, len(a), bool(call.kwargs):
            case "count", 0, False:
                return f"COUNT(*) {over}"
            case "count_if", 1, False:
                return f"COUNT(CASE WHEN COALESCE({a[0]}, FALSE) THEN 1 END) {over}"
            case (("sum" | "min" | "max"), 1, False):
                return f"{call.name.upper()}({a[0]}) {over}"
            case "avg", 1, False:  # as rillet divides; over only nulls SUM is null: null
                return f"(SUM(CAST({a[0]} AS DOUBLE)) {over} / COUNT({a[0]}) {over})"
        raise Unmappable(
            f"`{call.name}` in `rolling`: Flink's OVER aggregation takes SQL's aggregate"
            " functions, which map `count`, `count_if`, `sum`, `avg`, `min` and `max` only"
        )


def _frame(plan: Plan, node: Node, op: Rolling) -> str:
    if op.last is None:
        return f"RANGE BETWEEN {interval(op.within_ms or 0)} PRECEDING AND CURRENT ROW"
    require_file_order(
        plan, node, "`rolling last N` counts the records of one time in arrival order"
    )
    return f"ROWS BETWEEN {op.last - 1} PRECEDING AND CURRENT ROW"


def rolling_view(
    plan: Plan, node: Node, view: View, types: Types, env: Env
) -> tuple[View, str, str]:
    """The `rolling` step's view, its SELECT and how it maps."""
    from .translate import View

    op = node.op
    assert isinstance(op, Rolling)
    if not view.timed:
        raise Unmappable("`rolling` without event time on its source (Flink's watermark)")
    columns = {c: ident(c) for c in view.columns}
    compiler = OverExpr(columns, types, env)
    items = {assign.name: compiler.compile(assign.expr) for assign in op.fields}
    out = {**columns, **items}
    selected = ", ".join([f"{sql} AS {ident(name)}" for name, sql in out.items()] + [ROWTIME])
    partition = f"PARTITION BY {', '.join(ident(k) for k in op.keys)} " if op.keys else ""
    frame = _frame(plan, node, op)
    watermark = f"CURRENT_WATERMARK({ROWTIME})"
    on_time = (
        f"(SELECT * FROM v{node.inputs[0]} WHERE {watermark} IS NULL OR {ROWTIME} > {watermark})"
    )
    sql = (
        f"SELECT {selected} FROM {on_time} "
        f"WINDOW {_WINDOW} AS ({partition}ORDER BY {ROWTIME} {frame})"
    )
    how = f"OVER aggregation ({frame.split(' BETWEEN')[0]} frame), late records filtered"
    return View(list(out), True), sql, how
