"""The plan IR: the plain data that `rillet.dsl` produces and `rillet.runtime` executes.

Everything here is a frozen msgspec Struct, so a plan can be built by hand from Python (no
pipeline text needed), encoded to JSON for golden tests, and compared by value. The planner in
`rillet.dsl.planner` writes it; `rillet.runtime.compile` reads it. Read next: `compile.py`.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec


class Span(msgspec.Struct, frozen=True):
    """A region of the pipeline file, 1-based lines and columns, end exclusive."""

    line: int
    col: int
    end_line: int
    end_col: int


# -- expressions ---------------------------------------------------------------------------------


class Lit(msgspec.Struct, frozen=True, tag=True):
    value: Any


class Field(msgspec.Struct, frozen=True, tag=True):
    """A record field by path: `geo.city` is ("geo", "city"); `this` alone is ()."""

    path: tuple[str, ...]


class Index(msgspec.Struct, frozen=True, tag=True):
    target: Expr
    key: Expr


class Call(msgspec.Struct, frozen=True, tag=True):
    name: str
    args: tuple[Expr, ...]
    kwargs: tuple[tuple[str, Expr], ...] = ()


class Binary(msgspec.Struct, frozen=True, tag=True):
    """`op` is one of + - * / // % == != < <= > >= and or ?? in not_in."""

    op: str
    left: Expr
    right: Expr


class Unary(msgspec.Struct, frozen=True, tag=True):
    """`op` is `not` or `-`."""

    op: str
    operand: Expr


class Match(msgspec.Struct, frozen=True, tag=True):
    """`operand =~ "pattern"`: true when the regular expression matches anywhere."""

    operand: Expr
    pattern: str


class IfElse(msgspec.Struct, frozen=True, tag=True):
    cond: Expr
    then: Expr
    other: Expr


class ListOf(msgspec.Struct, frozen=True, tag=True):
    items: tuple[Expr, ...]


class RecordOf(msgspec.Struct, frozen=True, tag=True):
    items: tuple[tuple[str, Expr], ...]


Expr = Lit | Field | Index | Call | Binary | Unary | Match | IfElse | ListOf | RecordOf


# -- schemas -------------------------------------------------------------------------------------


class TypeSpec(msgspec.Struct, frozen=True):
    """`name` is int, float, str, bool, any, list or record; `item` is the element of a list."""

    name: str
    optional: bool = False
    item: TypeSpec | None = None


class FieldSpec(msgspec.Struct, frozen=True):
    name: str
    type: TypeSpec


class SchemaSpec(msgspec.Struct, frozen=True):
    name: str
    fields: tuple[FieldSpec, ...]


# -- operators -----------------------------------------------------------------------------------


class Assign(msgspec.Struct, frozen=True):
    name: str
    expr: Expr


class SourcePart(msgspec.Struct, frozen=True):
    """A further part of a hybrid source (`file(...) then kafka(...)`)."""

    connector: str
    config: dict[str, Any]


class Source(msgspec.Struct, frozen=True, tag=True):
    """`then` holds a hybrid source's further parts, read in order once `connector` has ended
    (`runtime/hybrid.py`); it and `after` are left out of the encoded plan when not written
    (`UNSET` is falsy). The schema applies to every part."""

    name: str
    connector: str
    config: dict[str, Any]
    schema: SchemaSpec | None = None
    then: tuple[SourcePart, ...] | msgspec.UnsetType = msgspec.UNSET
    after: str | msgspec.UnsetType = msgspec.UNSET
    """`... then kafka(...) after ts`: a later part's records whose `ts` is not after the newest
    `ts` of the parts before it are dropped."""

    @property
    def parts(self) -> tuple[SourcePart, ...]:
        """Every part, the first included: one for a plain source."""
        return (SourcePart(self.connector, self.config), *(self.then or ()))


class Sink(msgspec.Struct, frozen=True, tag=True):
    name: str
    connector: str
    config: dict[str, Any]
    schema: SchemaSpec | msgspec.UnsetType = msgspec.UNSET
    """The records' type, for a sink that asks for it (`Spec.typed`) when the checker knows it
    for every flow into the sink; UNSET otherwise, and so left out of the encoded plan."""


class Table(msgspec.Struct, frozen=True, tag=True):
    name: str
    connector: str
    config: dict[str, Any]
    schema: SchemaSpec | None = None


class Where(msgspec.Struct, frozen=True, tag=True):
    cond: Expr


class Select(msgspec.Struct, frozen=True, tag=True):
    fields: tuple[Assign, ...]


class Derive(msgspec.Struct, frozen=True, tag=True):
    """Assignments apply in order, so a later one sees the fields of the earlier ones."""

    fields: tuple[Assign, ...]


class Drop(msgspec.Struct, frozen=True, tag=True):
    names: tuple[str, ...]


class Explode(msgspec.Struct, frozen=True, tag=True):
    field: str
    into: str


class Union(msgspec.Struct, frozen=True, tag=True):
    pass


class EventTime(msgspec.Struct, frozen=True, tag=True):
    field: str
    lateness_ms: int = 0
    idle_ms: int | None = None


class Window(msgspec.Struct, frozen=True, tag=True):
    """`kind` is tumbling (size), sliding (size, every) or session (gap in `size_ms`).
    `emit_every_ms`: the open windows' rows are also emitted this often, on the run's clock
    (`emit every`); UNSET, and so left out of the encoded plan and of an operator's checkpoint
    fingerprint, when not given."""

    kind: str
    size_ms: int
    every_ms: int | None = None
    emit_every_ms: int | msgspec.UnsetType = msgspec.UNSET


class Aggregate(msgspec.Struct, frozen=True, tag=True):
    """`time_field` is the event-time field declared upstream (None: processing time)."""

    keys: tuple[str, ...]
    fields: tuple[Assign, ...]
    window: Window | None = None
    late_sink: str | None = None
    time_field: str | None = None
    lateness_ms: int = 0


class Rolling(msgspec.Struct, frozen=True, tag=True):
    """Each record with `fields` over its key's records in the last `within_ms` of event time
    (`time_field`), itself and ties included, or, with `last`, over its key's last `last`
    records in event-time order. Records wait for the watermark to pass their time."""

    keys: tuple[str, ...]
    fields: tuple[Assign, ...]
    time_field: str
    within_ms: int | None = None
    last: int | None = None
    late_sink: str | None = None
    lateness_ms: int = 0


class Order(msgspec.Struct, frozen=True):
    field: str
    descending: bool = True


class Top(msgspec.Struct, frozen=True, tag=True):
    """Per window (the whole input without one) and `keys` group, the first `count` records in
    `order`, nulls last, ties in arrival order; each with its `rank` (1 first) and, after a
    window, the window's bounds."""

    keys: tuple[str, ...]
    order: tuple[Order, ...]
    count: int
    window: Window | None = None
    late_sink: str | None = None
    time_field: str | None = None
    lateness_ms: int = 0


class Dedupe(msgspec.Struct, frozen=True, tag=True):
    keys: tuple[str, ...]
    within_ms: int
    time_field: str | None = None


class Join(msgspec.Struct, frozen=True, tag=True):
    """A join of the node's first input (left) with its second (right, named `right`): the
    left's `on` fields (one name, or several) equal to the right's `right_on` (unset: the same
    names), event times at most `within_ms` apart (None: any, a regular join). A `kind` "left"
    join also writes the left records that found no partner, `right_fields` (the right's
    fields, None when not known) null. Fields added after the first version are left out of
    the encoded plan when unset, so a join written before them keeps its checkpoints'
    fingerprint."""

    right: str
    on: str | tuple[str, ...]
    within_ms: int | None
    left_time: str | None = None
    right_time: str | None = None
    right_on: tuple[str, ...] | msgspec.UnsetType = msgspec.UNSET
    kind: Literal["left"] | msgspec.UnsetType = msgspec.UNSET
    right_fields: tuple[str, ...] | None | msgspec.UnsetType = msgspec.UNSET

    @property
    def left_keys(self) -> tuple[str, ...]:
        return (self.on,) if isinstance(self.on, str) else self.on

    @property
    def right_keys(self) -> tuple[str, ...]:
        return self.left_keys if isinstance(self.right_on, msgspec.UnsetType) else self.right_on


class Lookup(msgspec.Struct, frozen=True, tag=True):
    table: Table
    on: str


class PluginOperator(msgspec.Struct, frozen=True, tag=True):
    name: str
    kwargs: dict[str, Any]
    concurrency: int | None = None


Op = (
    Source
    | Sink
    | Where
    | Select
    | Derive
    | Drop
    | Explode
    | Union
    | EventTime
    | Aggregate
    | Rolling
    | Top
    | Dedupe
    | Join
    | Lookup
    | PluginOperator
)

STATELESS = (Where, Select, Derive, Drop, Explode)


def late_sink(op: Op) -> str | None:
    """The sink `late into` names for an operator's late records, if it has one."""
    return op.late_sink if isinstance(op, Aggregate | Rolling | Top) else None


class Node(msgspec.Struct, frozen=True):
    """One operator of the dataflow. `inputs` are node ids, in port order. `name` is the one
    the author gave the step (`| where ... as ok_clicks`): what people see it called (the live
    view, metrics, `graph`, `explain`); never part of its identity for checkpoints. Left out
    of the encoded plan when not given (`UNSET` is falsy)."""

    id: int
    op: Op
    inputs: tuple[int, ...] = ()
    span: Span | None = None
    name: str | msgspec.UnsetType = msgspec.UNSET


# -- alerts --------------------------------------------------------------------------------------

ALERT_MEASURES = {
    "backpressure": ("share", "the fullest input channel, as a share of its capacity"),
    "watermark_lag": ("duration", "wall-clock time minus the watermark, the largest over nodes"),
    "error_rate": ("share", "bad records among the records read, over the last 10 s"),
    "late_rate": ("share", "late records among the records read, over the last 10 s"),
    "checkpoint_age": ("duration", "time since the last checkpoint completed"),
    "input_rate": ("number", "records read per second by all sources, over the last 10 s"),
}
"""What an alert can watch, with its unit: a share (0 to 1, written `80%`), a duration (ms,
written `2m`) or a number. The monitor (`rillet.runtime.monitor.alert`) computes them from the
metrics."""


class Alert(msgspec.Struct, frozen=True):
    """`alert NAME when MEASURE OP THRESHOLD [for HOLD]`: active once the condition has held
    for `hold_ms`, inactive as soon as it no longer holds. `threshold` is in the measure's unit
    (a share 0.8 for `80%`, milliseconds, or records per second); `condition` is the condition
    as the pipeline file writes it, for messages."""

    name: str
    measure: str
    op: str  # > >= < <=
    threshold: float
    hold_ms: int = 0
    condition: str = ""
    span: Span | None = None


class Settings(msgspec.Struct, frozen=True):
    batch_size: int = 1000
    batch_timeout_ms: int = 200
    channel_capacity: int = 4
    checkpoint_interval_ms: int = 10_000
    max_drift_ms: int = 30_000
    """How far in event time a source may run ahead of another it meets (`alignment.py`)."""


class UsedPlugin(msgspec.Struct, frozen=True):
    """A plugin a pipeline names with `use`: a file (`target` as written, relative to the
    plan's `base_dir`) or a module."""

    target: str
    is_path: bool


class Plan(msgspec.Struct, frozen=True):
    """A whole pipeline. `error_sink` is the id of the sink node that receives bad records.

    `secrets` holds the values read through `env("NAME")`, each with its variable's name: the
    configs and literals hold them as they are (the connectors need them), and every surface
    that shows the plan or the run masks them (`secret.py`)."""

    nodes: tuple[Node, ...]
    settings: Settings = Settings()
    error_sink: int | None = None
    file: str = "<plan>"
    base_dir: str = "."
    plugins: tuple[UsedPlugin, ...] = ()
    """The plugins the pipeline `use`s, beside the installed ones: what the plan needs to run
    on its own (`pluginload.registry_of`)."""
    alerts: tuple[Alert, ...] = ()
    secrets: dict[str, str] = {}

    def node(self, node_id: int) -> Node:
        return self.nodes[node_id]
