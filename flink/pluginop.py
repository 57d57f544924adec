"""A plugin operator on Flink: a function of one record whose return annotation declares its
records' fields (`runtime/recordtype.py`) becomes a Python table function (`udtf`), called in a
`LATERAL TABLE` with the input row's fields and the call's constant keyword arguments, yielding
a row for each record the function returns. A lateral call keeps the input's rowtime column a
time attribute, so the event time and its watermark flow through to a window after it.

What does not map, each for its own reason: a stateful class (its state lives in rillet's
checkpoints), a function of a batch (it sees rillet's micro-batches), and a function that
declares no fields (a table function's row type is fixed before the job runs). Read next:
`pyops.py` (`OperatorCall`, what the Python workers run).
"""

from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass, field
from typing import Any

from rillet.runtime.plan import Aggregate, EventTime, Node, Plan, PluginOperator, Source, Top
from rillet.runtime.recordtype import declared_class, record_fields
from rillet.runtime.spec import Spec

from .connectors import ROWTIME
from .functions import Functions, annotation_type, udf_name
from .pythonorder import time_read_after
from .sqlexpr import Unmappable, ident


@dataclass(frozen=True)
class PyUdtf:
    """A plugin operator as a table function of the job: `attr` of `module` (or of the plugin
    file `file`, whose source the job carries), given the row's `columns` as a record and the
    `kwargs`, yielding rows of `fields` (name, Flink type); with `time_field`, a returned record
    must keep the input's event time (Flink keeps the input row's rowtime)."""

    sql_name: str
    module: str
    attr: str
    columns: tuple[str, ...]
    kwargs: tuple[tuple[str, Any], ...]
    fields: tuple[tuple[str, str], ...]
    time_field: str | None
    is_async: bool
    what: str
    file: str | None = None
    source: str | None = field(default=None, repr=False)


def operator_function(spec: Spec, name: str) -> dict[str, str]:
    """The declared fields' Flink types of the plugin operator `spec`; `Unmappable` with the
    reason when it does not map."""
    if isinstance(spec.obj, type):
        raise Unmappable(
            f"the stateful plugin operator `{name}` keeps its state through rillet's"
            " checkpoints (`snapshot`/`restore`), which a Flink job cannot call"
        )
    if spec.batch:
        raise Unmappable(
            f"the plugin operator `{name}` is a function of a batch (`batch=True`): it sees the"
            " records as rillet's micro-batches cut them, which a Flink job does not share"
            " (a function of one record maps)"
        )
    declared = declared_class(spec.returns)
    if declared is None:
        raise Unmappable(
            f"the plugin operator `{name}` returns records whose fields are not declared, and a"
            " Flink table function needs its row type before the job runs",
            "declare them: annotate its return as `-> Out | None` or `-> list[Out]`, where"
            " `Out` is a `typing.TypedDict` or a `msgspec.Struct` of the fields (docs/plugins.md)",
        )
    types: dict[str, str] = {}
    for field_name, annotation in record_fields(declared).items():
        kind = annotation_type(annotation)
        if kind is None:
            raise Unmappable(
                f"the plugin operator `{name}` declares `{field_name}` of a type Flink cannot"
                " hold here (str, int, float, bool or a list of them, optional or not)"
            )
        types[field_name] = kind
    return types


@dataclass(frozen=True)
class OperatorStep:
    """How one plugin operator maps: its table function, the view's SELECT, the output's
    columns and whether they keep event time, and whether a step after it reads event time
    (`time_read_after`)."""

    name: str
    udtf: PyUdtf
    sql: str
    columns: list[str]
    timed: bool
    time_read_after: bool

    def how(self) -> str:
        """For `explain`."""
        how = f"`{self.name}` as a Python table function in LATERAL TABLE"
        return how + f" (a row per record it returns{', event time kept' if self.timed else ''})"


def plugin_operator_step(
    plan: Plan, node: Node, columns: list[str], timed: bool, functions: Functions
) -> OperatorStep:
    """The plugin operator `node` over a view of `columns` (with event time when `timed`)."""
    op = node.op
    assert isinstance(op, PluginOperator)
    spec = functions.registry.get("operator", op.name)
    if spec is None:
        raise Unmappable(f"the plugin operator `{op.name}` is not known here")
    types = operator_function(spec, op.name)
    time_field = _time_field(plan, node) if timed else None
    keeps_time = time_field is not None and time_field in types
    udtf = _udtf(spec, op, columns, types, time_field if keeps_time else None, functions)
    aliases = [f"__o{i}" for i in range(len(types))]
    outputs = [f"T.{alias} AS {ident(name)}" for alias, name in zip(aliases, types)]
    outputs += [f"L.{ROWTIME} AS {ROWTIME}"] if keeps_time else []
    arguments = ", ".join(f"L.{ident(c)}" for c in columns)
    sql = (
        f"SELECT {', '.join(outputs)} FROM v{node.inputs[0]} AS L, "
        f"LATERAL TABLE({udtf.sql_name}({arguments})) AS T({', '.join(aliases)})"
    )
    ordered = keeps_time and time_read_after(plan, node)
    return OperatorStep(op.name, udtf, sql, list(types), keeps_time, ordered)


def _udtf(
    spec: Spec,
    op: PluginOperator,
    columns: list[str],
    types: dict[str, str],
    time_field: str | None,
    functions: Functions,
) -> PyUdtf:
    """One table function per operator and set of arguments (fixed in it)."""
    fn = spec.obj
    file = functions.plugin_file(fn)
    kwargs = tuple(sorted(op.kwargs.items()))
    fixed = repr((kwargs, columns, time_field)).encode()
    suffix = hashlib.sha1(fixed).hexdigest()[:8]
    return PyUdtf(
        udf_name(f"op_{spec.plugin}_{fn.__name__}_{suffix}", "rows"),
        fn.__module__,
        fn.__name__,
        tuple(columns),
        kwargs,
        tuple(types.items()),
        time_field,
        inspect.iscoroutinefunction(fn),
        f"plugin `{spec.plugin}` operator `{op.name}`",
        file,
        None if file is None else (functions.base_dir / file).read_text(),
    )


def _time_field(plan: Plan, node: Node) -> str | None:
    """The field rillet reads the event time from where `node` runs: `event_time`'s, through
    the steps that keep records (a join's left side); none after an aggregate or a `top`."""
    up = plan.node(node.inputs[0])
    while not isinstance(up.op, EventTime):
        if isinstance(up.op, Source | Aggregate | Top) or not up.inputs:
            return None
        up = plan.node(up.inputs[0])
    return up.op.field
