"""The live view on a terminal (rich): one table row per node — records/s in and out, batch
latency, busy share, input-channel fill, watermark lag, late and error counts — under a header
with the elapsed time, the last checkpoint's age and the bottleneck, a progress bar with ETA
per bounded file source, and the alerts below.

`render` is a pure function of a snapshot and the alert statuses, so it is tested on constructed
metrics; `monitor.py` redraws it once a second in a `rich.live.Live` on standard error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from . import units
from .alert import AlertStatus
from .snapshot import FULL, NodeView, Snapshot, reason

_BAR_CELLS = 8


def fill_bar(fill: float) -> Text:
    """`██████░░ 75%`, green below half full, yellow below full, red when full."""
    cells = round(fill * _BAR_CELLS)
    style = "red" if fill >= FULL else "yellow" if fill >= 0.5 else "green"
    return Text.assemble(
        ("█" * cells, style), ("░" * (_BAR_CELLS - cells), "dim"), f" {units.percent(fill):>4}"
    )


def header(snapshot: Snapshot, title: str) -> Text:
    text = Text.assemble(
        ("rillet ", "bold"), (title, "bold cyan"), f"  running {units.seconds(snapshot.elapsed_s)}"
    )
    if snapshot.checkpoint is not None:
        text.append(
            f"  checkpoint {snapshot.checkpoint.checkpoint_id} "
            f"{units.seconds(snapshot.checkpoint_age_s)} ago"
        )
    neck = snapshot.bottleneck
    if neck is not None:
        text.append("  bottleneck: ", "bold")
        text.append(f"{neck.info.kind} {neck.info.label}", "bold red")
        text.append(f" ({reason(neck)})", "dim")
    else:
        text.append("  no bottleneck", "green")
        text.append(" (no input channel is full)", "dim")
    return text


def _progress_rows(snapshot: Snapshot) -> Table | None:
    sources = [n for n in snapshot.nodes if n.progress is not None and n.progress.total]
    if not sources:
        return None
    table = Table.grid(padding=(0, 2))
    for n in sources:
        p = n.progress
        assert p is not None
        eta = units.seconds(p.eta_s) if p.eta_s is not None else "…"
        table.add_row(
            n.info.label,
            ProgressBar(total=p.total, completed=p.done, width=40),
            f"{units.percent(p.share):>4}",
            f"{units.size(p.done)} / {units.size(p.total)}",
            f"ETA {eta}",
        )
    return table


def _row(n: NodeView, is_bottleneck: bool) -> list[RenderableType]:
    name = Text(n.info.label, "bold red" if is_bottleneck else "")
    if is_bottleneck:
        name.append(" ◀", "bold red")
    if n.reading is not None:
        name.append(f" ({n.reading})", "dim")
    return [
        name,
        n.info.kind,
        units.rate(n.in_per_s),
        "" if n.info.kind == "sink" else units.rate(n.out_per_s),
        units.seconds(n.batch_ms / 1000) if n.batch_ms is not None else "",
        "" if n.info.kind == "source" else units.percent(n.busy),
        fill_bar(n.fill) if n.fill is not None else Text("—", "dim"),
        units.seconds(n.watermark_lag_ms / 1000) if n.watermark_lag_ms is not None else "",
        f"{n.late:,}" if n.late else "",
        Text(f"{n.errors:,}", "red") if n.errors else "",
    ]


def _alerts(alerts: list[AlertStatus]) -> Text | None:
    if not alerts:
        return None
    text = Text("alerts  ", "bold")
    for i, status in enumerate(alerts):
        if i:
            text.append("   ")
        if status.active:
            text.append(f"● {status.alert.name}", "bold red")
            text.append(f" {status.alert.condition} (now {status.shown})", "red")
        else:
            text.append(f"○ {status.alert.name}", "green")
            text.append(f" {status.alert.condition}", "dim")
    return text


def render(snapshot: Snapshot, alerts: list[AlertStatus], title: str = "") -> RenderableType:
    table = Table(expand=False, box=None, header_style="bold", pad_edge=False)
    for column, justify in (
        ("node", "left"),
        ("kind", "left"),
        ("in/s", "right"),
        ("out/s", "right"),
        ("batch", "right"),
        ("busy", "right"),
        ("input channel", "left"),
        ("wm lag", "right"),
        ("late", "right"),
        ("errors", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    neck = snapshot.bottleneck
    for n in snapshot.nodes:
        table.add_row(*_row(n, neck is not None and n.info.id == neck.info.id))
    parts = [header(snapshot, title), _progress_rows(snapshot), table, _alerts(alerts)]
    return Group(*(p for p in parts if p is not None))


@contextmanager
def live() -> Iterator[Callable[[Snapshot, list[AlertStatus], str], None]]:
    """The view on standard error while the block runs; call what it yields to redraw. Lines
    written to standard error meanwhile (logs) print above the view."""
    with Live(
        console=Console(stderr=True),
        auto_refresh=False,
        redirect_stdout=False,
        redirect_stderr=True,
    ) as view:
        yield lambda snapshot, alerts, title: view.update(
            render(snapshot, alerts, title), refresh=True
        )
