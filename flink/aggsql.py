"""`window ... | aggregate` as a Flink window table function (TUMBLE, HOP, SESSION) grouped by
the window and the keys, with built-in aggregate functions. rillet's `window_start` and
`window_end` are epoch milliseconds, so the window's bounds are converted back from Flink's
TIMESTAMP(3); `window_time` carries event time on for a later window."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rillet.runtime.plan import Aggregate, Expr, Lit

from .coltypes import AggregateTyper, Types
from .connectors import ROWTIME, interval
from .sqlexpr import Env, SqlExpr, Unmappable, ident

if TYPE_CHECKING:
    from .translate import View

_AGGREGATES = {
    "count", "count_if", "sum", "min", "max", "avg", "count_distinct", "quantile",
    "first", "last", "collect", "max_by", "min_by",
}  # fmt: skip
_EPOCH = "TIMESTAMP '1970-01-01 00:00:00'"


class AggregateExpr(SqlExpr):
    """Expressions of an `aggregate`'s fields: aggregate calls over the input's columns, and
    scalar functions around them (`round(avg(x), 1)`)."""

    def __init__(self, columns: dict[str, str], types: Types, env: Env) -> None:
        super().__init__({}, {}, env)
        self.inner = SqlExpr(columns, types, env)
        self.typer = AggregateTyper(types, env.functions.result)

    def _call(self, name: str, args: tuple[Expr, ...]) -> str:
        if name not in _AGGREGATES:
            return super()._call(name, args)
        a = [self.inner.compile(x) for x in args]
        match name, len(a):
            case "count", 0:
                return "COUNT(*)"
            case "count_if", 1:
                return f"COUNT(CASE WHEN COALESCE({a[0]}, FALSE) THEN 1 END)"
            case (("sum" | "min" | "max"), 1):
                return f"{name.upper()}({a[0]})"
            case "avg", 1:  # as rillet divides: Flink's AVG can differ in the last bit
                return f"(SUM(CAST({a[0]} AS DOUBLE)) / COUNT({a[0]}))"
            case "count_distinct", 1:
                return f"COUNT(DISTINCT {a[0]})"
            case "quantile", 2 if isinstance(args[1], Lit):
                return f"PERCENTILE(CAST({a[0]} AS DOUBLE), {a[1]})"
        raise Unmappable(f"the aggregate `{name}` has no Flink built-in of the same meaning")


def _fields(op: Aggregate, view: View, types: Types, env: Env) -> dict[str, str]:
    compiler = AggregateExpr({c: ident(c) for c in view.columns}, types, env)
    return {assign.name: compiler.compile(assign.expr) for assign in op.fields}


def whole_input_aggregate(
    op: Aggregate, view: View, source: str, types: Types, env: Env
) -> tuple[View, str, str]:
    """An `aggregate` without a window: one row per group once the input ends, which is a
    batch job's GROUP BY (in streaming mode it would be an updating table). A group exists
    only once a record has come, so without keys an empty input gives no row, as in rillet."""
    from .translate import View

    columns = {k: ident(k) for k in op.keys} | _fields(op, view, types, env)
    items = ", ".join(f"{sql} AS {ident(name)}" for name, sql in columns.items())
    group = f"GROUP BY {', '.join(ident(k) for k in op.keys)}" if op.keys else "HAVING COUNT(*) > 0"
    sql = f"SELECT {items} FROM {source} {group}"
    return View(list(columns), False), sql, "GROUP BY over the whole input (Flink's batch mode)"


def _epoch_ms(bound: str) -> str:
    """TIMESTAMPDIFF's result is an INT: whole seconds, widened, then the milliseconds."""
    seconds = f"CAST(TIMESTAMPDIFF(SECOND, {_EPOCH}, {bound}) AS BIGINT)"
    return f"({seconds} * 1000 + MOD(EXTRACT(MILLISECOND FROM {bound}), 1000))"


def _window_table(op: Aggregate, source: str) -> str:
    window = op.window
    assert window is not None
    table = f"TABLE {source}"
    if window.kind == "tumbling":
        return f"TUMBLE({table}, DESCRIPTOR({ROWTIME}), {interval(window.size_ms)})"
    if window.kind == "sliding" and window.every_ms is not None:
        every = interval(window.every_ms)
        return f"HOP({table}, DESCRIPTOR({ROWTIME}), {every}, {interval(window.size_ms)})"
    if window.kind == "session":
        keys = ", ".join(ident(k) for k in op.keys)
        partition = f"{table} PARTITION BY {keys}" if keys else table
        return f"SESSION({partition}, DESCRIPTOR({ROWTIME}), {interval(window.size_ms)})"
    raise Unmappable(f"a `{window.kind}` window has no Flink window function")


def window_aggregate(
    op: Aggregate, view: View, source: str, types: Types, env: Env
) -> tuple[View, str, str]:
    """The aggregate's output view, its SELECT, and how it maps."""
    from .translate import View

    assert op.window is not None
    if not view.timed or op.time_field is None:
        raise Unmappable("a window without event time: Flink windows here run on event time")
    if op.window.emit_every_ms:
        raise Unmappable("`emit every`: Flink SQL windows emit once, when they close")
    columns = {k: ident(k) for k in op.keys}
    columns["window_start"] = _epoch_ms("window_start")
    columns["window_end"] = _epoch_ms("window_end")
    columns |= _fields(op, view, types, env)
    items = [f"{sql} AS {ident(name)}" for name, sql in columns.items()]
    group = ", ".join(["window_start", "window_end", *(ident(k) for k in op.keys)])
    sql = (
        f"SELECT {', '.join(items)}, window_time AS {ROWTIME} "
        f"FROM TABLE({_window_table(op, source)}) GROUP BY {group}, window_time"
    )
    how = f"{op.window.kind.upper()} window table function + GROUP BY"
    return View(list(columns), True), sql, how
