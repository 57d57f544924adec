"""Where a step's records reach it in an order both engines share, for the steps whose result
follows arrival order: `dedupe` (which record of a key it keeps) and the aggregates `first`,
`last`, `collect`, `max_by`/`min_by` (of ties) and plugin aggregates (`aggsql.py`).

Straight from one file, through per-record steps, a key's records arrive in file order on both
engines and at any parallelism: one file is one split, read by one reader, and Flink's exchange
by key keeps the order of each sender. Anything else (a `union`, a glob, a join, a Kafka or
hybrid source) interleaves its inputs in an order no two engines share.
"""

from __future__ import annotations

from rillet.runtime.plan import (
    Derive,
    Drop,
    EventTime,
    Explode,
    Lookup,
    Node,
    Plan,
    PluginOperator,
    Select,
    Source,
    Where,
)

from .globs import MAGIC
from .sqlexpr import Unmappable

PER_RECORD = (Where, Select, Derive, Drop, Lookup, Explode, EventTime, PluginOperator)
"""Steps that pass each record on (or its items, in list order) when it arrives, on both
engines: they keep the order of what reaches them (a plugin operator maps only as a function of
one record, whose results rillet keeps in order, `async` ones too)."""


def origin(plan: Plan, node: Node) -> tuple[Node, list[Node]]:
    """The first step above `node` that is not per-record, and the per-record steps between."""
    path: list[Node] = []
    up = plan.node(node.inputs[0])
    while isinstance(up.op, PER_RECORD):
        path.append(up)
        up = plan.node(up.inputs[0])
    return up, path


def require_file_order(plan: Plan, node: Node, what: str) -> None:
    """Raise `Unmappable` unless the records reaching `node` come straight from one file;
    `what` names the step and why its order matters."""
    up, _ = origin(plan, node)
    op = up.op
    if isinstance(op, Source) and op.connector == "file" and not op.then:
        if not MAGIC & set(str(op.config.get("path", ""))):
            return
        raise Unmappable(
            f"{what}, and over a glob source rillet reads its files one after another, Flink"
            " side by side, so the records of a key arrive in another order"
        )
    source = f"a `{op.connector}` source" if isinstance(op, Source) else _described(up)
    raise Unmappable(
        f"{what}, and the records reaching it from {source} arrive in an order Flink does not"
        " reproduce"
    )


def _described(up: Node) -> str:
    name = f"`{type(up.op).__name__.lower()}`"
    return f"{name} (line {up.span.line})" if up.span else name
