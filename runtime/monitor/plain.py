"""The live view as plain lines, for a standard error that is not a terminal (a log file, CI):
every few seconds one line per node, then one line naming the bottleneck and active alerts.

Each line is a log record (`rillet.runtime.monitor`), so `--log-format json` turns them into
JSON lines whose fields carry the numbers. Read next: `terminal.py`, the same for a terminal.
"""

from __future__ import annotations

from typing import Any

from . import units
from .alert import AlertStatus
from .snapshot import NodeView, Snapshot, reason


def node_line(n: NodeView) -> tuple[str, dict[str, Any]]:
    """A node's line and its fields: rates, channel fill, batch latency, lag, late, errors."""
    parts = [f"{n.info.kind:<8} {n.info.label:<22}"]
    if n.info.kind == "source":
        parts.append(f"read {units.rate(n.in_per_s):>9}")
    else:
        parts.append(f"in {units.rate(n.in_per_s):>9}")
    if n.info.kind != "sink":
        parts.append(f"out {units.rate(n.out_per_s):>9}")
    if n.fill is not None:
        parts.append(f"fill {units.percent(n.fill):>4}")
    if n.batch_ms is not None:
        parts.append(f"batch {units.seconds(n.batch_ms / 1000)}")
    if n.info.kind != "source":
        parts.append(f"busy {units.percent(n.busy)}")
    if n.watermark_lag_ms is not None:
        parts.append(f"lag {units.seconds(n.watermark_lag_ms / 1000)}")
    if n.late:
        parts.append(f"late {n.late:,}")
    if n.errors:
        parts.append(f"errors {n.errors:,}")
    if n.reading is not None:
        parts.append(f"reading {n.reading}")
    if n.progress is not None and n.progress.total:
        eta = f" eta {units.seconds(n.progress.eta_s)}" if n.progress.eta_s is not None else ""
        parts.append(f"progress {units.percent(n.progress.share)}{eta}")
    fields = {
        "node": n.info.label,
        "kind": n.info.kind,
        "records_in": n.records_in,
        "records_out": n.records_out,
        "in_per_s": round(n.in_per_s, 1),
        "out_per_s": round(n.out_per_s, 1),
        "fill": n.fill,
        "batch_ms": n.batch_ms,
        "busy": round(n.busy, 3),
        "watermark_lag_ms": n.watermark_lag_ms,
        "late": n.late,
        "errors": n.errors,
    }
    if n.reading is not None:
        fields["reading"] = n.reading
    return "  ".join(parts), fields


def summary_line(snapshot: Snapshot, alerts: list[AlertStatus]) -> tuple[str, dict[str, Any]]:
    """Elapsed time, last checkpoint, bottleneck and the alerts that are active."""
    neck = snapshot.bottleneck
    parts = [f"running {units.seconds(snapshot.elapsed_s)}"]
    if snapshot.checkpoint is not None:
        parts.append(
            f"checkpoint {snapshot.checkpoint.checkpoint_id} "
            f"{units.seconds(snapshot.checkpoint_age_s)} ago"
        )
    parts.append(
        f"bottleneck {neck.info.kind} {neck.info.label} ({reason(neck)})"
        if neck is not None
        else "no bottleneck"
    )
    active = [s for s in alerts if s.active]
    if active:
        parts.append("alerts " + ", ".join(s.alert.name for s in active))
    fields = {
        "elapsed_s": round(snapshot.elapsed_s, 1),
        "bottleneck": neck.info.label if neck is not None else None,
        "checkpoint": snapshot.checkpoint.checkpoint_id if snapshot.checkpoint else None,
        "alerts_active": [s.alert.name for s in active],
    }
    return "  ".join(parts), fields


def lines(snapshot: Snapshot, alerts: list[AlertStatus]) -> list[tuple[str, dict[str, Any]]]:
    return [*(node_line(n) for n in snapshot.nodes), summary_line(snapshot, alerts)]
