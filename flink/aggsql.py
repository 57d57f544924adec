"""`window ... | aggregate` as a Flink window table function (TUMBLE, HOP, SESSION) grouped by
the window and the keys, with built-in aggregate functions. rillet's `window_start` and
`window_end` are epoch milliseconds, so the window's bounds are converted back from Flink's
TIMESTAMP(3); `window_time` carries event time on for a later window."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rillet.runtime.plan import Aggregate, Call, Expr, Lit, Window

from .coltypes import AggregateTyper, Types
from .connectors import ROWTIME, interval
from .sqlexpr import Env, SqlExpr, Unmappable, ident

if TYPE_CHECKING:
    from .translate import View

_EPOCH = "TIMESTAMP '1970-01-01 00:00:00'"


class AggregateExpr(SqlExpr):
    """Expressions of an `aggregate`'s fields: aggregate calls over the input's columns, and
    scalar functions around them (`round(avg(x), 1)`). An aggregate with no Flink built-in of
    the same meaning is rillet's own class run as a Python aggregate function (`python`
    names them: they see the records in arrival order, which the translation checks)."""

    def __init__(
        self, columns: dict[str, str], types: Types, env: Env, beside_python: bool = False
    ) -> None:
        super().__init__({}, {}, env)
        self.inner = SqlExpr(columns, types, env)
        self.typer = AggregateTyper(types, env.functions.result)
        self.python: list[str] = []
        self.beside_python = beside_python
        """Whether the aggregate also has Python aggregate functions: Flink's Python window
        operator takes no Java aggregate beside them but those it has in Python (`count`,
        `sum`, `min`, `max`), so `count_distinct` and `quantile` run as rillet's classes."""

    def compile(self, expr: Expr) -> str:
        if isinstance(expr, Call) and self.env.functions.is_aggregate(expr.name):
            return self._aggregate(expr)
        return super().compile(expr)

    def _aggregate(self, call: Call) -> str:
        builtin = None if call.kwargs else self._builtin(call.name, call.args)
        if builtin is not None:
            return builtin
        udaf = self.env.functions.aggregate(call.name, call.args, call.kwargs, self.typer.of(call))
        values = call.args[: len(call.args) - len(udaf.constants)]
        self.python.append(call.name)
        return self.env.aggregate_call(udaf, [self.inner.compile(x) for x in values])

    def _builtin(self, name: str, args: tuple[Expr, ...]) -> str | None:
        """A standard aggregate as Flink SQL, where one means the same whatever the order."""
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
            case "count_distinct", 1 if not self.beside_python:
                return f"COUNT(DISTINCT {a[0]})"
            case "quantile", 2 if isinstance(args[1], Lit) and not self.beside_python:
                return f"PERCENTILE(CAST({a[0]} AS DOUBLE), {a[1]})"
        return None


def _fields(op: Aggregate, view: View, types: Types, env: Env) -> tuple[dict[str, str], list[str]]:
    """Each field's SQL, and the aggregates among them that run as Python functions."""
    columns = {c: ident(c) for c in view.columns}
    compiler = AggregateExpr(columns, types, env)
    fields = {assign.name: compiler.compile(assign.expr) for assign in op.fields}
    if compiler.python:
        compiler = AggregateExpr(columns, types, env, beside_python=True)
        fields = {assign.name: compiler.compile(assign.expr) for assign in op.fields}
    return fields, compiler.python


def whole_input_aggregate(
    op: Aggregate, view: View, source: str, types: Types, env: Env
) -> tuple[View, str, str]:
    """An `aggregate` without a window: one row per group once the input ends, which is a
    batch job's GROUP BY (in streaming mode it would be an updating table). A group exists
    only once a record has come, so without keys an empty input gives no row, as in rillet."""
    from .translate import View

    fields, python = _fields(op, view, types, env)
    if python:
        raise Unmappable(
            f"`{python[0]}` runs as a Python aggregate function, which Flink runs in streaming"
            " mode only, and an `aggregate` without a window runs in batch mode"
        )
    columns = {k: ident(k) for k in op.keys} | fields
    items = ", ".join(f"{sql} AS {ident(name)}" for name, sql in columns.items())
    group = f"GROUP BY {', '.join(ident(k) for k in op.keys)}" if op.keys else "HAVING COUNT(*) > 0"
    sql = f"SELECT {items} FROM {source} {group}"
    return View(list(columns), False), sql, "GROUP BY over the whole input (Flink's batch mode)"


def epoch_ms(bound: str) -> str:
    """TIMESTAMPDIFF's result is an INT: whole seconds, widened, then the milliseconds."""
    seconds = f"CAST(TIMESTAMPDIFF(SECOND, {_EPOCH}, {bound}) AS BIGINT)"
    return f"({seconds} * 1000 + MOD(EXTRACT(MILLISECOND FROM {bound}), 1000))"


def _session_gap(gap_ms: int) -> str:
    """Flink merges sessions that touch (`[0, 2s)` and `[2s, 4s)`), rillet those that overlap:
    a gap 1 ms shorter merges exactly the records less than `gap` apart, and the session's
    end is then 1 ms early (`window_end + 1` in the output)."""
    if gap_ms < 2:
        raise Unmappable("a session gap under 2 ms (Flink's sessions are 1 ms shorter)")
    return interval(gap_ms - 1)


def pane_window_table(window: Window, source: str) -> str | None:
    """The window table function of a tumbling or sliding window over `source`; None for
    another kind."""
    table = f"TABLE {source}"
    if window.kind == "tumbling":
        return f"TUMBLE({table}, DESCRIPTOR({ROWTIME}), {interval(window.size_ms)})"
    if window.kind == "sliding" and window.every_ms is not None:
        every = interval(window.every_ms)
        return f"HOP({table}, DESCRIPTOR({ROWTIME}), {every}, {interval(window.size_ms)})"
    return None


def _window_table(op: Aggregate, source: str) -> str:
    window = op.window
    assert window is not None
    panes = pane_window_table(window, source)
    if panes is not None:
        return panes
    table = f"TABLE {source}"
    if window.kind == "session":
        keys = ", ".join(ident(k) for k in op.keys)
        partition = f"{table} PARTITION BY {keys}" if keys else table
        return f"SESSION({partition}, DESCRIPTOR({ROWTIME}), {_session_gap(window.size_ms)})"
    raise Unmappable(f"a `{window.kind}` window has no Flink window function")


def _group_window(op: Aggregate, source: str, fields: dict[str, str]) -> tuple[str, dict]:
    """The window as a group window (`GROUP BY TUMBLE(…)`, `HOP`, `SESSION`): the same
    windows, fired at the same watermark, and the form whose plan takes Python aggregate
    functions (a window table function's does not)."""
    window = op.window
    assert window is not None
    kind = {"tumbling": "TUMBLE", "sliding": "HOP", "session": "SESSION"}[window.kind]
    session = window.kind == "session"
    sizes = [_session_gap(window.size_ms) if session else interval(window.size_ms)]
    if window.kind == "sliding" and window.every_ms is not None:
        sizes.insert(0, interval(window.every_ms))
    args = ", ".join([ROWTIME, *sizes])
    columns = {k: ident(k) for k in op.keys}
    columns["window_start"] = epoch_ms(f"{kind}_START({args})")
    columns["window_end"] = epoch_ms(f"{kind}_END({args})") + (" + 1" if session else "")
    columns |= fields
    items = [f"{sql} AS {ident(name)}" for name, sql in columns.items()]
    group = ", ".join([f"{kind}({args})", *(ident(k) for k in op.keys)])
    sql = (
        f"SELECT {', '.join(items)}, {kind}_ROWTIME({args}) AS {ROWTIME} "
        f"FROM {source} GROUP BY {group}"
    )
    return sql, columns


def window_aggregate(
    op: Aggregate, view: View, source: str, types: Types, env: Env
) -> tuple[View, str, str, list[str]]:
    """The aggregate's output view, its SELECT, how it maps, and the aggregates that run as
    Python functions (they need the records in an order both engines share)."""
    from .translate import View

    assert op.window is not None
    if not view.timed or op.time_field is None:
        raise Unmappable("a window without event time: Flink windows here run on event time")
    if op.window.emit_every_ms:
        raise Unmappable("`emit every`: Flink SQL windows emit once, when they close")
    fields, python = _fields(op, view, types, env)
    if python:  # Flink plans a Python aggregate function in a group window only
        sql, columns = _group_window(op, source, fields)
        how = f"{op.window.kind.upper()} group window + GROUP BY"
        how += f" ({', '.join(sorted(set(python)))}: Python aggregate functions)"
        return View(list(columns), True), sql, how, python
    columns = {k: ident(k) for k in op.keys}
    columns["window_start"] = epoch_ms("window_start")
    columns["window_end"] = epoch_ms("window_end")
    if op.window.kind == "session":
        columns["window_end"] += " + 1"
    columns |= fields
    items = [f"{sql} AS {ident(name)}" for name, sql in columns.items()]
    group = ", ".join(["window_start", "window_end", *(ident(k) for k in op.keys)])
    sql = (
        f"SELECT {', '.join(items)}, window_time AS {ROWTIME} "
        f"FROM TABLE({_window_table(op, source)}) GROUP BY {group}, window_time"
    )
    how = f"{op.window.kind.upper()} window table function + GROUP BY"
    return View(list(columns), True), sql, how, python
