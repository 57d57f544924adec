"""From the plan IR to the physical graph: fuse stateless chains, compile their code.

A run of stateless operators (`where select derive drop explode`) in which each one feeds only
the next becomes one `stage` node with one generated batch function. Stateful operators
(`event_time`, windows and `aggregate` or `top`, `rolling`, `dedupe`, `join`, `lookup`) become
`operator` nodes. Plugin operators become `operator` nodes too (`pluginop.py`). Read next:
`run.py`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec
from msgspec import field

from .clock import Clock
from .eventtime import EventTimeOperator
from .keyed import DedupeOperator
from .plan import (
    STATELESS,
    Aggregate,
    Dedupe,
    EventTime,
    Join,
    Lookup,
    Node,
    Plan,
    PluginOperator,
    Rolling,
    SchemaSpec,
    Sink,
    Source,
    Top,
    Union,
    Window,
    late_sink,
)
from .plugin import FunctionContext, Registry, Spec
from .stage import CompiledStage, compile_stage
from .typedflow import typed_inputs

if TYPE_CHECKING:
    from .aggregate import CompiledAggregate


class PhysicalNode(msgspec.Struct):
    id: int
    kind: str  # source | stage | operator | union | sink
    name: str
    plan_nodes: list[Node]
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    stage: CompiledStage | None = None
    operator: Any = None
    """The `runtime.operator.Operator` of an operator node (a lookup's is built at open)."""
    late_sink: int | None = None
    typed: bool = False
    """A source whose records are Structs (`schema.py`): every reader only reads fields."""


class PhysicalPlan(msgspec.Struct):
    plan: Plan
    nodes: dict[int, PhysicalNode]
    error_sink: int | None
    functions: dict[Any, Spec] = field(default_factory=dict)
    """The code object of each function callable in expressions, to name the one that raised."""


_OPERATORS = (EventTime, Aggregate, Rolling, Top, Dedupe, Join, Lookup, PluginOperator)


def operator_name(node: Node) -> str:
    """The operator as the pipeline file writes it (`where`, `event_time`, `my_plugin_op`)."""
    if isinstance(node.op, PluginOperator):
        return node.op.name
    if isinstance(node.op, EventTime):
        return "event_time"
    return type(node.op).__name__.lower()


def compile_plan(
    plan: Plan, registry: Registry, clock: Clock, given_sinks: frozenset[str] = frozenset()
) -> PhysicalPlan:
    """`given_sinks` names the sinks the caller builds itself rather than the registry (a test's
    collecting sink): they take dicts, whatever the registry's connector of that name takes."""
    functions = _bind_functions(registry, clock)
    nodes, physical_of = _fuse(plan)
    typed = typed_inputs(nodes, registry)
    _build(nodes, registry, functions, clock, given_sinks, typed)
    error_sink = physical_of.get(plan.error_sink) if plan.error_sink is not None else None
    return PhysicalPlan(plan, nodes, error_sink, _function_codes(registry))


def _fuse(plan: Plan) -> tuple[dict[int, PhysicalNode], dict[int, int]]:
    """One physical node per plan node, except that a stateless operator joins the stage it
    reads from when it is that stage's only reader; and which physical node runs each plan
    node."""
    consumers: dict[int, list[int]] = {n.id: [] for n in plan.nodes}
    for n in plan.nodes:
        for i in n.inputs:
            consumers[i].append(n.id)
    physical_of: dict[int, int] = {}
    nodes: dict[int, PhysicalNode] = {}
    for n in plan.nodes:  # the planner emits nodes in topological order
        op = n.op
        if isinstance(op, STATELESS):
            (parent,) = n.inputs
            host = nodes.get(physical_of[parent])
            if host is not None and host.kind == "stage" and len(consumers[parent]) == 1:
                host.plan_nodes.append(n)
                physical_of[n.id] = host.id
                continue
            kind, name = "stage", ""
        elif isinstance(op, Source):
            kind, name = "source", op.name
        elif isinstance(op, Sink):
            kind, name = "sink", op.name
        elif isinstance(op, Union):
            kind, name = "union", "union"
        elif isinstance(op, _OPERATORS):
            kind, name = "operator", n.name or _located(operator_name(n), n)
        else:
            raise TypeError(f"not an operator the runtime knows: {op!r}")
        inputs = [physical_of[i] for i in n.inputs]
        nodes[n.id] = PhysicalNode(n.id, kind, name, [n], inputs)
        physical_of[n.id] = n.id
    return nodes, physical_of


def _build(
    nodes: dict[int, PhysicalNode],
    registry: Registry,
    functions: dict[str, Callable[..., Any]],
    clock: Clock,
    given_sinks: frozenset[str],
    typed: dict[int, dict[str, str]],
) -> None:
    """Link each node to its readers and build what it runs: a stage's generated function,
    an operator; `typed` gives the nodes whose input records are Structs (`typedflow.py`)."""
    present: dict[int, frozenset[str]] = {}  # fields each node's output records surely have
    for node in nodes.values():  # in topological order, so inputs come first
        for i in node.inputs:
            nodes[i].outputs.append(node.id)
        op = node.plan_nodes[0].op
        if isinstance(op, Source):
            present[node.id] = _required_fields(op.schema)
        elif node.kind == "union":
            present[node.id] = frozenset.intersection(*(present[i] for i in node.inputs))
        elif node.kind == "operator":
            rows = _only_encoding_sinks(node, nodes, registry, given_sinks)
            node.operator = _operator(op, registry, functions, clock, typed.get(node.id), rows)
            late = late_sink(op)
            if late is not None:
                node.late_sink = next(
                    n.id for n in nodes.values() if n.kind == "sink" and n.name == late
                )
            present[node.id] = _still_present(op, present[node.inputs[0]])
        elif node.kind == "stage":
            node.name = _stage_name(node.plan_nodes)
            rows = _only_encoding_sinks(node, nodes, registry, given_sinks)
            ops = [pn.op for pn in node.plan_nodes]
            (source,) = node.inputs
            attrs = typed.get(node.id)
            node.stage = compile_stage(ops, functions, present[source], attrs, rows)  # type: ignore[arg-type]  # a stage holds stateless ops only
            present[node.id] = node.stage.present


def _still_present(op: Any, before: frozenset[str]) -> frozenset[str]:
    """The fields an operator's output records surely have, of those its input's have."""
    if isinstance(op, EventTime | Dedupe):  # passes records on unchanged
        return before
    if isinstance(op, Rolling):  # adds its items, which may be null
        return before - {a.name for a in op.fields}
    return frozenset()


def _only_encoding_sinks(
    node: PhysicalNode,
    nodes: dict[int, PhysicalNode],
    registry: Registry,
    given_sinks: frozenset[str],
) -> bool:
    """Whether every reader of `node` is a sink that only encodes its records (`Spec.encodes`),
    so that its rows may be Structs."""
    readers = [n.plan_nodes[0].op for n in nodes.values() if node.id in n.inputs]
    for op in readers:
        spec = None
        if isinstance(op, Sink) and op.name not in given_sinks:
            spec = registry.get("sink", op.connector)
        if spec is None or not spec.encodes_rows(op.config):  # type: ignore[union-attr]  # a Sink
            return False
    return bool(readers)


def _function_codes(registry: Registry) -> dict[Any, Spec]:
    """Each plugin function's code object, to name the function a failing record met."""
    codes: dict[Any, Spec] = {}
    for name in registry.names("function"):
        spec = registry.get("function", name)
        code = getattr(spec.obj, "__code__", None) if spec is not None else None
        if spec is not None and code is not None:
            codes[code] = spec
    return codes


def _stage_name(plan_nodes: list[Node]) -> str:
    """The names the author gave the fused steps (`ok_clicks`, `ok_clicks+slow`), else the
    operators and the line of the first (`where+derive@26`)."""
    given = [pn.name for pn in plan_nodes if pn.name]
    if given:
        return "+".join(given)
    return _located("+".join(operator_name(pn) for pn in plan_nodes), plan_nodes[0])


def _located(name: str, node: Node) -> str:
    return f"{name}@{node.span.line}" if node.span is not None else name


def _operator(
    op: Any,
    registry: Registry,
    functions: dict[str, Callable[..., Any]],
    clock: Clock,
    attrs: dict[str, str] | None = None,
    rows: bool = False,
) -> Any:
    """`attrs`: each field's attribute when the input records are Structs (`typedflow.py`);
    `rows`: only sinks that encode their records read the output (`Spec.encodes`)."""
    # each kind's module is imported when a plan has one: a run starts without the others
    match op:
        case EventTime(field=field_name, lateness_ms=lateness, idle_ms=idle):
            attr = None if attrs is None else attrs[field_name]
            return EventTimeOperator(field_name, lateness, idle, clock, attr)
        case Aggregate():
            from .aggregate import compile_aggregate

            compiled = compile_aggregate(op, registry, functions, attrs, rows)
            return _windowed(op, compiled, clock, attrs)
        case Top():
            from .top import compile_top

            return _windowed(op, compile_top(op, registry, functions), clock)
        case Rolling(fields=fields, time_field=time_field, lateness_ms=lateness):
            from .aggregate import compile_aggregate
            from .rolling import RollingOperator

            return RollingOperator(
                compile_aggregate(op, registry, functions),
                tuple(a.name for a in fields),
                time_field,
                lateness,
                op.within_ms,
                op.last,
                clock,
            )
        case Dedupe(keys=keys, within_ms=within, time_field=time_field):
            return DedupeOperator(keys, within, time_field, clock)
        case Join():
            from .join import JoinOperator

            return JoinOperator(op, clock)
        case Lookup():
            return None  # needs its table loaded: built when the run opens its connectors
        case PluginOperator(name=name, kwargs=kwargs, concurrency=concurrency):
            spec = registry.get("operator", name)
            assert spec is not None
            from .pluginop import plugin_operator

            return plugin_operator(spec, kwargs, concurrency)
    raise TypeError(f"not an operator: {op!r}")


def _windowed(
    op: Aggregate | Top,
    aggregate: CompiledAggregate,
    clock: Clock,
    attrs: dict[str, str] | None = None,
) -> Any:
    """The operator that runs an `aggregate` or a `top` over its window, or over the whole
    input without one."""
    match op.window:
        case None:
            from .window import GlobalAggregate

            return GlobalAggregate(aggregate)
        case Window(kind="session", size_ms=gap):
            from .session import SessionWindow

            return SessionWindow(aggregate, gap, op.time_field, op.lateness_ms, clock)
        case Window(size_ms=size, every_ms=every, emit_every_ms=early):
            from .window import PaneWindow

            early_ms = early or None  # UNSET when not given
            lateness = op.lateness_ms
            time_attr = None if attrs is None or op.time_field is None else attrs[op.time_field]
            return PaneWindow(
                aggregate, size, every or size, op.time_field, lateness, clock, early_ms, time_attr
            )
    raise TypeError(f"not a window: {op.window!r}")


def _required_fields(schema: SchemaSpec | None) -> frozenset[str]:
    """Fields a schema guarantees present and non-null: required, and not of type `any`."""
    if schema is None:
        return frozenset()
    return frozenset(f.name for f in schema.fields if not f.type.optional and f.type.name != "any")


def _bind_functions(registry: Registry, clock: Clock) -> dict[str, Callable[..., Any]]:
    context = FunctionContext(clock=clock)
    bound = {}
    for name in registry.names("function"):
        spec = registry.get("function", name)
        assert spec is not None
        bound[name] = functools.partial(spec.obj, context) if spec.context else spec.obj
    return bound


__all__ = ["PhysicalNode", "PhysicalPlan", "compile_plan"]
