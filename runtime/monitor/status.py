"""`/api/status`: what the dashboard draws, as one JSON object built from the monitor's last
snapshot — the graph (nodes and edges, with the fill of each edge's channel), per-node rates,
the bottleneck, the alerts, the checkpoint history and the watermark lag history.

Built in the HTTP thread from values the event loop replaces whole (the snapshot) or appends to
(bounded deques, copied at once), so it never waits for the run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import units
from .snapshot import NodeView, reason

if TYPE_CHECKING:
    from .monitor import Monitor


def _node(view: NodeView) -> dict[str, Any]:
    info, progress = view.info, view.progress
    return {
        "id": info.id,
        "name": info.name,
        "label": info.label,
        "kind": info.kind,
        "records_in": view.records_in,
        "records_out": view.records_out,
        "in_per_s": round(view.in_per_s, 1),
        "out_per_s": round(view.out_per_s, 1),
        "batch_ms": None if view.batch_ms is None else round(view.batch_ms, 3),
        "busy": round(view.busy, 3),
        "fill": view.fill,
        "queued_records": view.queued_records,
        "watermark_ms": view.watermark_ms,
        "watermark_lag_ms": view.watermark_lag_ms,
        "late": view.late,
        "errors": view.errors,
        "progress": None
        if progress is None
        else {"done": progress.done, "total": progress.total, "eta_s": progress.eta_s},
    }


def status(monitor: Monitor) -> dict[str, Any]:
    snapshot = monitor.latest
    fills = {n.info.id: n.fill for n in snapshot.nodes}
    edges = []
    for info in monitor.nodes:
        edges += [
            {"from": info.id, "to": o, "kind": "data", "fill": fills.get(o)} for o in info.outputs
        ]
        for kind, target in (("errors", info.errors_to), ("late", info.late_to)):
            if target is not None:
                edges.append(
                    {"from": info.id, "to": target, "kind": kind, "fill": fills.get(target)}
                )
    neck = snapshot.bottleneck
    completed = monitor.metrics.checkpoints.completed  # before the history: never behind it
    history = list(monitor.metrics.checkpoints.history)
    return {
        "pipeline": monitor.title,
        "running": monitor.running,
        "elapsed_s": round(snapshot.elapsed_s, 1),
        "time_ms": snapshot.time_ms,
        "nodes": [_node(n) for n in snapshot.nodes],
        "edges": edges,
        "bottleneck": None if neck is None else neck.info.id,
        "bottleneck_reason": None if neck is None else reason(neck),
        "alerts": [
            {
                "name": s.alert.name,
                "condition": s.alert.condition,
                "active": s.active,
                "now": s.shown,
            }
            for s in monitor.alerts.statuses
        ],
        "checkpoints": {
            "completed": completed,
            "age_s": round(snapshot.checkpoint_age_s, 1) if snapshot.checkpoint else None,
            "history": [
                {
                    "id": r.checkpoint_id,
                    "time_ms": r.time_ms,
                    "duration_s": r.duration_s,
                    "size_bytes": r.size_bytes,
                    "size": units.size(r.size_bytes),
                }
                for r in history
            ],
        },
        "watermark_lag": [list(point) for point in list(monitor.lag_history)],
    }
