"""Counters of a run, per node and per channel, kept as plain values that exporters read.

Updated once per batch, never per record, so keeping them costs nothing measurable. The
monitoring issue exports these; the CLI's run summary reads them at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class NodeMetrics:
    name: str
    kind: str
    records_in: int = 0
    records_out: int = 0
    batches_in: int = 0
    batches_out: int = 0
    errors: int = 0
    late: int = 0
    """Records that arrived after their window closed (sent to `late into`, or dropped)."""
    busy_s: float = 0.0
    blocked_s: float = 0.0
    """Time spent waiting for room on a full output channel: the backpressure this node felt."""


@dataclass(slots=True)
class ChannelMetrics:
    """One node's input channel. `queued_records` counts records sent but not yet received,
    including a batch whose sender is waiting for room."""

    capacity_batches: int
    queued_batches: int = 0
    queued_records: int = 0
    max_queued_records: int = 0


@dataclass(slots=True)
class RunMetrics:
    nodes: dict[int, NodeMetrics] = field(default_factory=dict)
    channels: dict[int, ChannelMetrics] = field(default_factory=dict)
    elapsed_s: float = 0.0

    def by_kind(self, kind: str) -> list[NodeMetrics]:
        return [m for m in self.nodes.values() if m.kind == kind]
