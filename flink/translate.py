"""The plan IR as Flink SQL: one temporary view per plan node, one insert per sink.

Each node's view selects its columns explicitly (`columns`), plus the event-time column `__rt`
when its input carries one, so windows and interval joins downstream find their time
attribute. A node that cannot map is recorded as `Unmapped` with its span and the reason, and
the job is not built: `rillet` reports them as diagnostics instead of running half a job.
Read next: `jobfile.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rillet.runtime.plan import (
    Aggregate,
    Dedupe,
    Derive,
    Drop,
    EventTime,
    Explode,
    Join,
    Lookup,
    Node,
    Plan,
    PluginOperator,
    Rolling,
    Select,
    Sink,
    Source,
    Span,
    Top,
    Union,
    Where,
)
from rillet.runtime.pluginload import registry_of

from .aggsql import whole_input_aggregate, window_aggregate
from .coltypes import Types, node_types
from .connectors import (
    KAFKA_JAR,
    ROWTIME,
    EventTimeSpec,
    SinkTable,
    interval,
    lookup_columns,
    sink_table,
    source_table,
)
from .csvsink import csv_columns
from .dedupe import DedupeStep, dedupe_step
from .functions import Functions, PyUdaf, PyUdf
from .onereader import OneReaderStep
from .order import require_file_order
from .pluginop import PyUdtf, plugin_operator_step
from .pythonorder import keep_watermark_order, step_named, time_read_after
from .rolling import rolling_view
from .sqlexpr import Env, SqlExpr, Unmappable, ident
from .top import top_view


@dataclass(frozen=True)
class Unmapped:
    node_id: int
    span: Span | None
    reason: str
    hint: str = ""


@dataclass(frozen=True)
class Step:
    """How one plan node maps, for `explain --engine flink`."""

    node_id: int
    what: str
    flink: str


@dataclass
class View:
    columns: list[str]
    timed: bool


@dataclass
class FlinkJob:
    statements: list[str | DedupeStep | OneReaderStep] = field(default_factory=list)
    """SQL, and the `dedupe` steps that pass a view through the DataStream API."""
    sinks: list[tuple[SinkTable, str]] = field(default_factory=list)
    """Each sink's table and the query whose rows it receives; a sink nothing flows into (a
    `late into` or `errors into` target) is listed with an empty query."""
    steps: list[Step] = field(default_factory=list)
    unmapped: list[Unmapped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    batch: str = ""
    """What makes the job run in Flink's batch mode (an `aggregate` without a window, a `left
    join` without `within`: final rows once the inputs end), if anything."""
    udfs: dict[str, PyUdf] = field(default_factory=dict)
    """The Python UDFs its SQL calls, by SQL name (`functions.py`)."""
    udafs: dict[str, PyUdaf] = field(default_factory=dict)
    """The Python aggregate functions its SQL calls, by SQL name."""
    udtfs: dict[str, PyUdtf] = field(default_factory=dict)
    """The plugin operators its SQL calls as Python table functions, by SQL name."""
    one_record_bundles: bool = False
    """Whether a step reads event time after a plugin operator (`time_read_after`)."""


@dataclass
class Exprs:
    """What compiling a node's expressions needs: the job's functions and UDFs, and each
    node's column types (`coltypes.py`)."""

    env: Env
    types: dict[int, Types]

    def over(self, node: Node, columns: dict[str, str]) -> SqlExpr:
        return SqlExpr(columns, self.types[node.inputs[0]], self.env)


def translate(plan: Plan) -> FlinkJob:
    job = FlinkJob()
    functions = Functions(registry_of(plan), plan.base_dir)
    types = node_types(plan, functions.result, functions.operator_fields)
    exprs = Exprs(Env(functions, job.udfs, job.udafs), types)
    times = _event_times(plan, job)
    views: dict[int, View] = {}
    for node in plan.nodes:
        calls = exprs.env.python_calls
        try:
            view, how = _node(plan, node, views, times, job, exprs)
            if exprs.env.python_calls > calls and time_read_after(plan, node, itself=True):
                keep_watermark_order(job, f"Python in {step_named(node)}")
        except Unmappable as e:
            job.unmapped.append(Unmapped(node.id, node.span, str(e), e.hint))
            views[node.id] = View([], False)
            continue
        views[node.id] = view
        job.steps.append(Step(node.id, type(node.op).__name__.lower(), how))
    _outputs_aside(plan, job)
    if job.batch:
        _batch_only(plan, job)
    return job


def _batch_only(plan: Plan, job: FlinkJob) -> None:
    """A batch job reads bounded inputs and ignores watermarks, so event time (whose late
    records rillet drops) and unbounded sources do not mix with what needs batch mode."""
    for node in plan.nodes:
        if isinstance(node.op, EventTime):
            reason = (
                f"`event_time` with {job.batch}: Flink runs that job in batch mode, where late"
                " records are not dropped"
            )
            job.unmapped.append(Unmapped(node.id, node.span, reason))
        elif isinstance(node.op, Source) and node.op.connector != "file":
            reason = f"an unbounded source with {job.batch} (Flink's batch mode reads files)"
            job.unmapped.append(Unmapped(node.id, node.span, reason))


def _event_times(plan: Plan, job: FlinkJob) -> dict[int, EventTimeSpec]:
    """Each source's event time: Flink declares watermarks on the table, so `event_time` must
    follow its source with at most `where` steps between."""
    found: dict[int, EventTimeSpec] = {}
    for node in plan.nodes:
        if not isinstance(node.op, EventTime):
            continue
        up = plan.node(node.inputs[0])
        while isinstance(up.op, Where):
            up = plan.node(up.inputs[0])
        spec = EventTimeSpec(node.op.field, node.op.lateness_ms)
        if not isinstance(up.op, Source) or found.get(up.id, spec) != spec:
            reason = "`event_time` here: Flink declares it on a source, before other steps"
            job.unmapped.append(Unmapped(node.id, node.span, reason))
        else:
            found[up.id] = spec
    return found


def _outputs_aside(plan: Plan, job: FlinkJob) -> None:
    if plan.error_sink is not None:
        job.notes.append(
            "`errors into`: a record Flink cannot parse is skipped (`json.ignore-parse-errors`);"
            " a failing expression or plugin operator fails the job. The errors sink stays"
            " empty."
        )
    for node in plan.nodes:
        if isinstance(node.op, Aggregate | Rolling | Top) and node.op.late_sink:
            job.notes.append(
                f"`late into {node.op.late_sink}`: Flink SQL's windows drop late records; "
                "the sink stays empty."
            )


def _select(columns: dict[str, str], timed: bool) -> str:
    items = [f"{sql} AS {ident(name)}" for name, sql in columns.items()]
    return ", ".join(items + ([ROWTIME] if timed else []))


def _plain(view: View, alias: str = "") -> dict[str, str]:
    prefix = f"{alias}." if alias else ""
    return {c: prefix + ident(c) for c in view.columns}


def _source_how(source: Source, timed: bool) -> str:
    if source.connector != "file":
        how = f"Kafka table (jar: {KAFKA_JAR})"
        return how + (", watermark = newest time minus the lateness" if timed else "")
    if not timed:
        return "filesystem table"
    return (
        "filesystem table, read in one task: rowtime and watermark (newest time minus the"
        " lateness) assigned there, in file order"
    )


def _node(  # noqa: C901 - one arm per operator
    plan: Plan,
    node: Node,
    views: dict[int, View],
    times: dict[int, EventTimeSpec],
    job: FlinkJob,
    exprs: Exprs,
) -> tuple[View, str]:
    op, name = node.op, f"v{node.id}"
    inputs = [views[i] for i in node.inputs]
    statement = f"CREATE TEMPORARY VIEW {name} AS "
    match op:
        case Source():
            ddl, from_name, names = source_table(node.id, op, plan.base_dir, times.get(node.id))
            job.statements += ddl
            timed = node.id in times
            view = View(names, timed)
            sql = f"SELECT {_select(_plain(view), timed)} FROM {from_name}"
            job.statements.append(statement + sql)
            return view, _source_how(op, timed)
        case Sink():
            return _sink(op, node, inputs, plan.base_dir, job, exprs)
        case EventTime():
            view = inputs[0]
            job.statements.append(statement + f"SELECT * FROM v{node.inputs[0]}")
            return View(view.columns, True), "the source's WATERMARK (declared with its rows)"
        case Where(cond=cond):
            view = inputs[0]
            where = exprs.over(node, _plain(view)).compile(cond)
            sql = f"SELECT {_select(_plain(view), view.timed)} FROM v{node.inputs[0]} WHERE {where}"
            job.statements.append(statement + sql)
            return view, "WHERE (a comparison with null is false)"
        case Select(fields=fields) | Derive(fields=fields):
            view = inputs[0]
            assigned: dict[str, str] = {} if isinstance(op, Select) else _plain(view)
            scope, types = _plain(view), dict(exprs.types[node.inputs[0]])
            for assign in fields:
                compiler = SqlExpr(scope, types, exprs.env)
                compiled = compiler.compile(assign.expr)
                assigned[assign.name] = compiled
                if isinstance(op, Derive):
                    scope = {**scope, assign.name: compiled}
                    types[assign.name] = compiler.typer.of(assign.expr)
            sql = f"SELECT {_select(assigned, view.timed)} FROM v{node.inputs[0]}"
            job.statements.append(statement + sql)
            return View(list(assigned), view.timed), "SELECT with expressions"
        case Drop(names=names):
            view = inputs[0]
            kept = {c: ident(c) for c in view.columns if c not in names}
            job.statements.append(
                statement + f"SELECT {_select(kept, view.timed)} FROM v{node.inputs[0]}"
            )
            return View(list(kept), view.timed), "SELECT of the other columns"
        case Explode(field=field, into=into):
            return _explode(field, into, node, inputs[0], job, statement)
        case Union():
            return _union(node, inputs, job, statement)
        case Aggregate() | Rolling() | Top():
            return _aggregate(plan, node, inputs[0], job, statement, exprs)
        case Join():
            return _join(op, node, inputs, job, statement)
        case Lookup(table=table, on=on):
            view = inputs[0]
            extra = lookup_columns(table, ident(on), plan.base_dir)
            columns = {**_plain(view), **extra}
            job.statements.append(
                statement + f"SELECT {_select(columns, view.timed)} FROM v{node.inputs[0]}"
            )
            return View(list(columns), view.timed), "CASE over the table's rows, read at build"
        case Dedupe():
            columns_of = {i: v.columns for i, v in views.items()}
            step, how = dedupe_step(plan, node, op, inputs[0].timed, columns_of)
            job.statements.append(step)
            return inputs[0], how
        case PluginOperator():
            view, functions = inputs[0], exprs.env.functions
            mapped = plugin_operator_step(plan, node, view.columns, view.timed, functions)
            job.udtfs[mapped.udtf.sql_name] = mapped.udtf
            job.statements.append(statement + mapped.sql)
            if mapped.time_read_after:
                keep_watermark_order(job, f"`{mapped.name}`")
            return View(mapped.columns, mapped.timed), mapped.how()
    raise Unmappable(f"`{type(op).__name__.lower()}` is not translated to Flink yet")


def _aggregate(
    plan: Plan, node: Node, view: View, job: FlinkJob, statement: str, exprs: Exprs
) -> tuple[View, str]:
    """An `aggregate`, a `rolling` (the same items over a frame of each record) or a `top`
    (an aggregate of the first N records, in rillet as on Flink)."""
    op = node.op
    assert isinstance(op, Aggregate | Rolling | Top)
    source, types = f"v{node.inputs[0]}", exprs.types[node.inputs[0]]
    if isinstance(op, Top):
        out, sql, how = top_view(plan, node, view)
    elif isinstance(op, Rolling):
        out, sql, how = rolling_view(plan, node, view, types, exprs.env)
    elif op.window is None:
        out, sql, how = whole_input_aggregate(op, view, source, types, exprs.env)
        job.batch = "an `aggregate` without `window`"
    else:
        out, sql, how, python = window_aggregate(op, view, source, types, exprs.env)
        if python:
            require_file_order(plan, node, f"`{python[0]}` sees a group's records in arrival order")
    job.statements.append(statement + sql)
    return out, how


def _sink(
    op: Sink, node: Node, inputs: list[View], base_dir: str, job: FlinkJob, exprs: Exprs
) -> tuple[View, str]:
    """The sink's table and the query whose rows it receives (none for a sink nothing flows
    into); a csv sink's values as rillet writes them (`csvsink.py`)."""
    columns = _plain(inputs[0]) if node.inputs else {}
    target = sink_table(op, base_dir, columns)
    if target.options.get("format") == "csv" and node.inputs:
        types = exprs.types[node.inputs[0]]
        columns = csv_columns(columns, types, exprs.env, target.delimiter)
    query = f"SELECT {_select(columns, False)} FROM v{node.inputs[0]}" if node.inputs else ""
    job.sinks.append((target, query))
    return View([], False), _sink_how(target)


def _sink_how(target: SinkTable) -> str:
    if target.path is None:
        return f"INSERT INTO a Kafka table (the cluster needs the {KAFKA_JAR} jar)"
    return "INSERT INTO a filesystem table (exactly-once with checkpoints)"


def _explode(
    field: str, into: str, node: Node, view: View, job: FlinkJob, statement: str
) -> tuple[View, str]:
    """One row per item, in a lateral `UNNEST`: a null or empty list gives no row, as in
    rillet, and the event time stays an attribute (the result is append-only)."""
    columns = {**_plain(view, "E"), into: "X.__item"}
    sql = (
        f"SELECT {_select(columns, view.timed)} FROM v{node.inputs[0]} AS E "
        f"CROSS JOIN UNNEST(E.{ident(field)}) AS X(__item)"
    )
    job.statements.append(statement + sql)
    return View(list(columns), view.timed), "CROSS JOIN UNNEST (a row per item)"


def _union(node: Node, inputs: list[View], job: FlinkJob, statement: str) -> tuple[View, str]:
    columns = inputs[0].columns
    if any(v.columns != columns for v in inputs):
        raise Unmappable("a `union` of streams whose fields differ (Flink needs one row type)")
    timed = all(v.timed for v in inputs)
    parts = [f"SELECT {_select(_plain(v), timed)} FROM v{i}" for v, i in zip(inputs, node.inputs)]
    job.statements.append(statement + " UNION ALL ".join(parts))
    return View(columns, timed), "UNION ALL"


def _join(
    op: Join, node: Node, inputs: list[View], job: FlinkJob, statement: str
) -> tuple[View, str]:
    left, right = inputs
    if op.within_ms is not None and not (left.timed and right.timed):
        raise Unmappable("a `join … within` without event time on both sides")
    shared = {a for a, b in zip(op.left_keys, op.right_keys) if a == b}
    columns = _plain(left, "L")
    for name in right.columns:
        if name not in shared:
            columns[f"{op.right}_{name}" if name in left.columns else name] = f"R.{ident(name)}"
    keys = " AND ".join(f"L.{ident(a)} = R.{ident(b)}" for a, b in zip(op.left_keys, op.right_keys))
    if op.within_ms is None and op.kind == "left":
        # streaming, a lone left row would be retracted when a partner comes; rillet writes
        # it at the end of the input, which is a batch job's final result
        job.batch = "a `left join` without `within`"
        sides = f"v{node.inputs[0]} L LEFT JOIN v{node.inputs[1]} R"
        sql = f"SELECT {_select(columns, False)} FROM {sides} ON {keys}"
        job.statements.append(statement + sql)
        return View(list(columns), False), "regular LEFT JOIN in Flink's batch mode"
    if op.within_ms is None:  # a regular inner join of append-only inputs is append-only
        sides = f"v{node.inputs[0]} L JOIN v{node.inputs[1]} R"
        sql = f"SELECT {_select(columns, False)} FROM {sides} ON {keys}"
        job.statements.append(statement + sql)
        return View(list(columns), False), "regular join (every pair, kept for the whole run)"
    within = interval(op.within_ms)
    kind = "LEFT JOIN" if op.kind == "left" else "JOIN"  # an interval outer join is append-only
    sql = (
        f"SELECT {_select(columns, False)}, L.{ROWTIME} AS {ROWTIME} "
        f"FROM v{node.inputs[0]} L {kind} v{node.inputs[1]} R ON {keys} "
        f"AND L.{ROWTIME} BETWEEN R.{ROWTIME} - {within} AND R.{ROWTIME} + {within}"
    )
    job.statements.append(statement + sql)
    how = "interval join (event times at most `within` apart)"
    return View(list(columns), True), how + (
        ", LEFT: a left row without partner once the watermark passes" if op.kind == "left" else ""
    )
