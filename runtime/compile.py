"""From the plan IR to the physical graph: fuse stateless chains, compile their code.

A run of stateless operators (`where select derive drop explode`) in which each one feeds only
the next becomes one `stage` node with one generated batch function. Everything else keeps its
own node. Operators whose execution has not been built yet are refused here with `NotExecutable`,
naming the operator's span, before anything is read or written. Read next: `run.py`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .clock import Clock
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
    SchemaSpec,
    Sink,
    Source,
    Union,
)
from .plugin import FunctionContext, Registry
from .stage import CompiledStage, compile_stage


class NotExecutable(Exception):
    """The plan uses an operator this runtime cannot execute yet."""

    def __init__(self, node: Node, message: str) -> None:
        super().__init__(message)
        self.node = node


@dataclass
class PhysicalNode:
    id: int
    kind: str  # source | stage | union | sink
    name: str
    plan_nodes: list[Node]
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    stage: CompiledStage | None = None


@dataclass
class PhysicalPlan:
    plan: Plan
    nodes: dict[int, PhysicalNode]
    error_sink: int | None


_PENDING = {
    EventTime: "`event_time`",
    Aggregate: "`window` and `aggregate`",
    Dedupe: "`dedupe`",
    Join: "`join`",
    Lookup: "`lookup`",
    PluginOperator: "a plugin operator",
}


def operator_name(node: Node) -> str:
    return type(node.op).__name__.lower()


def compile_plan(plan: Plan, registry: Registry, clock: Clock) -> PhysicalPlan:
    consumers: dict[int, list[int]] = {n.id: [] for n in plan.nodes}
    for n in plan.nodes:
        for i in n.inputs:
            consumers[i].append(n.id)
    functions = _bind_functions(registry, clock)
    physical_of: dict[int, int] = {}
    nodes: dict[int, PhysicalNode] = {}

    for n in plan.nodes:  # the planner emits nodes in topological order
        op = n.op
        if type(op) in _PENDING:
            raise NotExecutable(n, f"{_PENDING[type(op)]} cannot run yet in this version "
                                "(it parses and checks)")
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
        else:
            raise NotExecutable(n, f"`{operator_name(n)}` cannot run yet in this version")
        inputs = [physical_of[i] for i in n.inputs]
        nodes[n.id] = PhysicalNode(n.id, kind, name, [n], inputs)
        physical_of[n.id] = n.id

    present: dict[int, frozenset[str]] = {}  # fields each node's output records surely have
    for node in nodes.values():  # in topological order, so inputs come first
        for i in node.inputs:
            nodes[i].outputs.append(node.id)
        op = node.plan_nodes[0].op
        if isinstance(op, Source):
            present[node.id] = _required_fields(op.schema)
        elif node.kind == "union":
            present[node.id] = frozenset.intersection(*(present[i] for i in node.inputs))
        elif node.kind == "stage":
            ops = [pn.op for pn in node.plan_nodes]
            node.name = "+".join(operator_name(pn) for pn in node.plan_nodes)
            first = node.plan_nodes[0].span
            if first is not None:
                node.name += f"@{first.line}"
            (source,) = node.inputs
            node.stage = compile_stage(ops, functions, present[source])  # type: ignore[arg-type]
            present[node.id] = node.stage.present
    error_sink = physical_of.get(plan.error_sink) if plan.error_sink is not None else None
    return PhysicalPlan(plan, nodes, error_sink)


def _required_fields(schema: SchemaSpec | None) -> frozenset[str]:
    """Fields a schema guarantees present and non-null: required, and not of type `any`."""
    if schema is None:
        return frozenset()
    return frozenset(f.name for f in schema.fields
                     if not f.type.optional and f.type.name != "any")


def _bind_functions(registry: Registry, clock: Clock) -> dict[str, Callable[..., Any]]:
    context = FunctionContext(clock=clock)
    bound = {}
    for name in registry.names("function"):
        spec = registry.get("function", name)
        assert spec is not None
        bound[name] = functools.partial(spec.obj, context) if spec.context else spec.obj
    return bound


__all__ = ["NotExecutable", "PhysicalNode", "PhysicalPlan", "compile_plan"]
