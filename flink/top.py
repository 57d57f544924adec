"""`window … | top N by F desc per K` as Flink's window Top-N: `ROW_NUMBER() OVER (PARTITION BY
window_start, window_end, K ORDER BY F DESC NULLS LAST) <= N` over a window table function.

Both engines keep a window's ranking until the watermark passes its end, so the same records
are late. Nulls come last in both directions, as in rillet. Ties: Flink's window rank buffers
a window's records per key and sort key in lists, in arrival order, as rillet ranks tied
records by arrival, so the ranking maps where the records reach it in an order both engines
share (`order.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rillet.runtime.plan import Node, Plan, Top

from .aggsql import epoch_ms, pane_window_table
from .order import require_file_order
from .sqlexpr import Unmappable, ident

if TYPE_CHECKING:
    from .translate import View

_BOUNDS = ("window_start", "window_end")


def _window_table(op: Top, source: str) -> str:
    assert op.window is not None
    panes = pane_window_table(op.window, source)
    if panes is not None:
        return panes
    raise Unmappable(
        "`top` after a session window: Flink's window Top-N over `SESSION` gave sessions that"
        " overlap where records came out of order, and rillet merges them"
    )


def top_view(plan: Plan, node: Node, view: View) -> tuple[View, str, str]:
    """The `top` step's view, its SELECT and how it maps."""
    from .translate import View

    op = node.op
    assert isinstance(op, Top)
    if op.window is None:
        raise Unmappable(
            "`top` without a window ranks the whole input when it ends; Flink's batch mode"
            " sorts without keeping arrival order for ties"
        )
    if not view.timed or op.window.emit_every_ms:
        raise Unmappable(
            "`top` without event time or with `emit every`: Flink's window Top-N emits a"
            " window once, when the watermark closes it"
        )
    clash = [c for c in view.columns if c in _BOUNDS]
    if clash:
        raise Unmappable(
            f"`top` over records with a field `{clash[0]}`: Flink's window table function adds"
            " its own window bounds (`drop` or rename it before)"
        )
    require_file_order(plan, node, "`top` ranks tied records in arrival order")
    partition = ", ".join([*_BOUNDS, *(ident(k) for k in op.keys)])
    order = ", ".join(
        f"{ident(o.field)} {'DESC' if o.descending else 'ASC'} NULLS LAST" for o in op.order
    )
    ranked = (
        f"SELECT *, ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY {order}) AS __rank "
        f"FROM TABLE({_window_table(op, f'v{node.inputs[0]}')})"
    )
    columns = {b: epoch_ms(b) for b in _BOUNDS}
    columns |= {c: ident(c) for c in view.columns}
    columns["rank"] = "__rank"
    items = ", ".join(f"{sql} AS {ident(name)}" for name, sql in columns.items())
    sql = f"SELECT {items} FROM ({ranked}) WHERE __rank <= {op.count}"
    how = f"{op.window.kind.upper()} window table function + window Top-N (ROW_NUMBER)"
    return View(list(columns), False), sql, how
