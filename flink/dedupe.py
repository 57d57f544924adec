"""`dedupe by K within D` for Flink: which order the job's process function decides in, and
where no order both engines share exists (an `E1401` with the reason).

rillet decides in arrival order (runtime/keyed.py), so Flink gives the same records only where a
key's records reach the `dedupe` in an order both engines share:

- **straight from one file** (through per-record steps): file order, on both engines and at any
  parallelism (one file is one split, read by one reader; `key_by` keeps each key's order). The
  process function decides as each record arrives.
- **after `join … within`**: a pair is emitted when its second record arrives, so arrival depends
  on how the two inputs interleave, which differs between engines (and Flink's interval join
  emits a record's matches in the order of its state). Records of one key there carry the left
  record's time; rillet emits a record's pairs in the order of the other side's event time, then
  arrival (runtime/join.py). The process function holds a key's records of one event time until
  the watermark passes it and decides in that same order: the pair with the earliest partner.

Anything else (a `union`, a glob, a hybrid or Kafka source, a `left join`, processing time) has
no shared order and does not map. The job side is `dedupejob.py`. Read next: `jobfile.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from rillet.runtime.plan import (
    Dedupe,
    Derive,
    Explode,
    Field,
    Join,
    Node,
    Plan,
    Select,
)

from .order import origin, require_file_order
from .sqlexpr import Unmappable, ident


@dataclass(frozen=True)
class DedupeStep:
    """One `dedupe` of the job: the arguments of the script's `dedupe_view`."""

    view: str
    source: str
    select: str
    keys: tuple[str, ...]
    within_ms: int
    order_by: str | None
    """None: decide in arrival order; else the column whose order breaks a tie of event time
    (the join's other side's event time), decided once the watermark passes it."""

    def arguments(self) -> dict:
        return {
            "step": "dedupe_view",
            "view": self.view,
            "source": self.source,
            "select": self.select,
            "keys": list(self.keys),
            "within_ms": self.within_ms,
            "order_by": self.order_by,
        }


def dedupe_step(
    plan: Plan, node: Node, op: Dedupe, timed: bool, columns_of: dict[int, list[str]]
) -> tuple[DedupeStep, str]:
    """The job's step for `node` and how it maps; `columns_of` holds each translated node's
    columns (a join's left ones name its right side's time field after it)."""
    columns = columns_of[node.inputs[0]]
    if op.time_field is None or not timed:
        raise Unmappable(
            "`dedupe` on processing time: a record's time is the clock's when it arrives,"
            " which no two engines share; declare `event_time` before it"
        )
    up, path = origin(plan, node)
    order_by: str | None = None
    if isinstance(up.op, Join):
        order_by = _partner_time(up.op, columns_of[up.inputs[0]], path)
        if order_by not in columns:
            raise Unmappable(
                f"`dedupe` after a `join`: it keeps the pair with the earliest partner, by"
                f" `{order_by}`, which must reach it unchanged (keep it, or `drop` it after)"
            )
        how = (
            "keyed process function (DataStream API): a key's records of one event time held"
            f" until the watermark passes it, the one with the least `{order_by}` kept"
        )
    else:
        require_file_order(plan, node, "`dedupe` keeps the first record of a key in arrival order")
        how = "keyed process function (DataStream API), deciding in arrival order (file order)"
    step = DedupeStep(
        view=f"v{node.id}",
        source=f"v{node.inputs[0]}",
        select=", ".join(ident(c) for c in columns),
        keys=op.keys,
        within_ms=op.within_ms,
        order_by=order_by,
    )
    return step, how


def _partner_time(join: Join, left: list[str], path: list[Node]) -> str:
    """The column holding the join's right side's event time after the join, checked to pass
    the steps between unchanged."""
    if join.kind == "left" or join.within_ms is None or join.right_time is None:
        raise Unmappable(
            "`dedupe` after a `left join` or a `join` without `within`: its rows come out in"
            " an order (at the watermark, or without event time) Flink does not reproduce"
        )
    name = join.right_time
    column = f"{join.right}_{name}" if name in left else name
    for step in path:
        changed = (
            isinstance(step.op, Derive) and any(a.name == column for a in step.op.fields)
        ) or (
            isinstance(step.op, Select)
            and any(a.name == column and a.expr != Field((column,)) for a in step.op.fields)
        )
        if changed or (isinstance(step.op, Explode) and step.op.into == column):
            raise Unmappable(f"`dedupe` after a `join`: `{column}` is changed before it")
    return column
