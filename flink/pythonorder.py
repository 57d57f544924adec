"""Where a Python step must keep records and watermarks in order. PyFlink runs Python UDFs,
table functions and aggregate functions in a worker fed in bundles of records, and a Python
operator holds a watermark back until its bundle is done: the records behind the watermark then
reach the next step before it, and a window after the Python step counts records rillet calls
late (seen for a plugin operator and for a plugin function before a window: docs/flink.md).
A job whose Python runs before a step on event time therefore runs one record per bundle
(`jobfile.py`, `ONE_RECORD_BUNDLES`), at a round trip to the worker per record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rillet.runtime.plan import Aggregate, Dedupe, Join, Node, Op, Plan, Rolling, Top

if TYPE_CHECKING:
    from .translate import FlinkJob


def time_read_after(plan: Plan, node: Node, itself: bool = False) -> bool:
    """Whether a step after `node` (or, `itself`, `node` too: the Python of a window's items
    runs before it) decides by event time: a window, `rolling`, `dedupe`, a `join … within`."""
    if itself and reads_time(node.op):
        return True
    reached = {node.id}
    for later in plan.nodes:
        if reached.isdisjoint(later.inputs):
            continue
        reached.add(later.id)
        if reads_time(later.op):
            return True
    return False


def reads_time(op: Op) -> bool:
    if isinstance(op, Rolling | Dedupe):
        return True
    if isinstance(op, Aggregate | Top):
        return op.window is not None
    return isinstance(op, Join) and op.within_ms is not None


def step_named(node: Node) -> str:
    """How a note names the step: "the `derive` at line 7"."""
    where = f" at line {node.span.line}" if node.span is not None else ""
    return f"the `{type(node.op).__name__.lower()}`{where}"


def keep_watermark_order(job: FlinkJob, what: str) -> None:
    """Make `job` run one record per bundle, its notes saying that `what` is why."""
    if not job.one_record_bundles:
        job.one_record_bundles = True
        job.notes.append(
            f"{what} runs before a step on event time: Python runs one record per bundle, so no"
            " record overtakes a watermark (a round trip per record)"
        )
