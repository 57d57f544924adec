"""Which saved state belongs to which operator, across edits of the pipeline.

An operator's state is saved under its *identity*, derived from what it is and where it reads
from: its kind and the identities of the operators and sources upstream of it, skipping the
operators that keep no state (`where`, `select`, `derive`, `drop`, `explode`). So adding,
changing or removing a stateless step, a sink, a flow or an alert leaves every identity as it
was, and the state is kept. Two operators that would get the same identity are told apart by
the sinks they write to, then by their order in the file. A step named with `as` is matched by
its name first (`upgrade.py`): its state follows the name wherever the step moves, and renaming
it falls back on the derived identity. Whether the state still *fits* is the operator's
fingerprint (`checkpoint.fingerprint`): a window's size or the `by` keys changed keep the
identity but not the fingerprint.

The manifest keeps the plan's `Shape` — each identity's fingerprint, name and how the file wrote
it, and for each sink a hash of everything upstream of it — so that `rillet diff` can say what a
resumed run would do and whether the outputs already written still fit it."""

from __future__ import annotations

import hashlib

from .checkpoint import Shape, Shaped, fingerprint
from .plan import Derive, Drop, Explode, Node, Plan, Select, Sink, Source, Union, Where

STATELESS = (Where, Select, Derive, Drop, Explode)


def shown(node: Node) -> str:
    """An operator as people see it named: `as` name, or kind@line."""
    if node.name:
        return str(node.name)
    kind = "event_time" if type(node.op).__name__ == "EventTime" else _kind(node)
    return f"{kind}@{node.span.line}" if node.span is not None else kind


def _kind(node: Node) -> str:
    name = getattr(node.op, "name", None)  # a plugin operator: its own name
    return name if isinstance(name, str) else type(node.op).__name__.lower()


def is_stateful(node: Node) -> bool:
    return not isinstance(node.op, (*STATELESS, Source, Sink, Union))


def identities(plan: Plan) -> dict[int, str]:
    """Each stateful operator node's id -> its identity."""
    nodes = {n.id: n for n in plan.nodes}
    derived: dict[int, str] = {}

    def upstream(node_id: int) -> str:
        node = nodes[node_id]
        if isinstance(node.op, Source):
            return f"source {node.op.name}"
        if isinstance(node.op, STATELESS):
            return upstream(node.inputs[0])
        if isinstance(node.op, Union):
            return "union(" + ", ".join(sorted(map(upstream, node.inputs))) + ")"
        return identity(node)

    def identity(node: Node) -> str:
        if node.id not in derived:
            derived[node.id] = f"{_kind(node)}({', '.join(map(upstream, node.inputs))})"
        return derived[node.id]

    stateful = [n for n in plan.nodes if is_stateful(n)]
    first = {n.id: identity(n) for n in stateful}
    return _told_apart(plan, first)


def _told_apart(plan: Plan, first: dict[int, str]) -> dict[int, str]:
    """Identities made unique: by the sinks downstream, then by order in the file."""
    sinks = _sinks_downstream(plan)
    result: dict[int, str] = {}
    seen: dict[str, int] = {}
    for node_id, key in first.items():
        if list(first.values()).count(key) > 1:
            key = f"{key} into {', '.join(sinks[node_id])}"
        seen[key] = seen.get(key, 0) + 1
        result[node_id] = key if seen[key] == 1 else f"{key} #{seen[key]}"
    return result


def _sinks_downstream(plan: Plan) -> dict[int, list[str]]:
    found: dict[int, set[str]] = {n.id: set() for n in plan.nodes}
    for node in reversed(plan.nodes):  # the planner emits them in topological order
        if isinstance(node.op, Sink):
            found[node.id].add(node.op.name)
        for i in node.inputs:
            found[i] |= found[node.id]
    return {k: sorted(v) for k, v in found.items()}


def shape(plan: Plan, keys: dict[int, str]) -> Shape:
    nodes = {n.id: n for n in plan.nodes}
    hashes: dict[int, str] = {}
    for node in plan.nodes:  # inputs come first
        upstream = "".join(hashes[i] for i in node.inputs)
        hashes[node.id] = hashlib.sha256((fingerprint(node.op) + upstream).encode()).hexdigest()
    operators = {
        keys[i]: Shaped(fingerprint(nodes[i].op), shown(nodes[i]), nodes[i].name or None)
        for i in sorted(keys)
    }
    sinks = {n.op.name: hashes[n.id][:16] for n in plan.nodes if isinstance(n.op, Sink)}
    return Shape(operators, sinks)
