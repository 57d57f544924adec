"""`/metrics`: the run's counters in the Prometheus text format, through prometheus-client.

A custom collector reads the runtime's plain metric objects when Prometheus scrapes, so the run's
hot path never calls into prometheus-client: the runtime updates its counters once per batch as
it always does, and the numbers are turned into metric families only here, in the HTTP thread
(at most twice a second, however often Prometheus asks: `pages.py`).
Every name starts with `rillet_`; per-node series carry `node` (`NodeInfo.label`) and `kind`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from rillet.runtime.metrics import ChannelMetrics, Histogram, NodeMetrics, RunMetrics

from .alert import AlertStatus
from .snapshot import NodeInfo


@dataclass
class Source:
    """What the collector reads: the run's metrics and graph, the alerts, the wall clock."""

    nodes: list[NodeInfo]
    metrics: RunMetrics
    alerts: list[AlertStatus]
    time_ms: Callable[[], int]
    elapsed_s: Callable[[], float]


@dataclass(frozen=True)
class _NodeSample:
    kind: str
    m: NodeMetrics
    channel: ChannelMetrics | None
    now_ms: int

    def taken(self) -> float:
        """A source's records in: what it read, bad ones included."""
        return self.m.records_out + self.m.errors if self.kind == "source" else self.m.records_in

    def fill(self) -> float | None:
        c = self.channel
        return None if c is None else min(1.0, c.queued_batches / c.capacity_batches)

    def lag_s(self) -> float | None:
        w = self.m.watermark_ms
        return None if w is None else (self.now_ms - w) / 1000


_PER_NODE: tuple[tuple[str, str, str, Callable[[_NodeSample], float | None]], ...] = (
    (
        "counter",
        "rillet_records_in",
        "Records a node took in (a source: read, bad ones included).",
        _NodeSample.taken,
    ),
    ("counter", "rillet_records_out", "Records a node sent on.", lambda n: n.m.records_out),
    (
        "counter",
        "rillet_errors",
        "Bad records: unreadable, invalid, or failing an expression.",
        lambda n: n.m.errors,
    ),
    (
        "counter",
        "rillet_late",
        "Records that arrived after their window closed.",
        lambda n: n.m.late,
    ),
    (
        "counter",
        "rillet_busy_seconds",
        "Time a node spent working on batches.",
        lambda n: n.m.busy_s,
    ),
    (
        "counter",
        "rillet_blocked_seconds",
        "Time a node waited for room downstream (backpressure).",
        lambda n: n.m.blocked_s,
    ),
    (
        "gauge",
        "rillet_channel_fill_ratio",
        "A node's input channel: batches queued / capacity.",
        _NodeSample.fill,
    ),
    (
        "gauge",
        "rillet_channel_queued_records",
        "Records waiting in a node's input channel.",
        lambda n: None if n.channel is None else n.channel.queued_records,
    ),
    (
        "gauge",
        "rillet_channel_capacity_batches",
        "Batches a node's input channel holds.",
        lambda n: None if n.channel is None else n.channel.capacity_batches,
    ),
    (
        "gauge",
        "rillet_watermark_milliseconds",
        "The last watermark a node passed on, epoch ms.",
        lambda n: n.m.watermark_ms,
    ),
    (
        "gauge",
        "rillet_watermark_lag_seconds",
        "Wall-clock time minus a node's watermark.",
        _NodeSample.lag_s,
    ),
    (
        "gauge",
        "rillet_source_part",
        "The part a hybrid source (`then`) reads, from 1.",
        lambda n: n.m.part,
    ),
)
"""Every metric kept per node, in the order they are served: kind, name, help, and how to
read it from a node's sample (None: the node has none, as a source has no input channel)."""


def _family(
    kind: str, name: str, doc: str, labels: list[str]
) -> CounterMetricFamily | GaugeMetricFamily:
    if kind == "counter":
        return CounterMetricFamily(name, doc, labels=labels)
    return GaugeMetricFamily(name, doc, labels=labels)


def _histogram(name: str, doc: str, h: Histogram) -> HistogramMetricFamily:
    buckets, cumulative = [], 0
    for bound, count in zip([*map(float, h.bounds), float("inf")], h.counts):
        cumulative += count
        buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
    return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=h.sum)


class RunCollector(Collector):
    def __init__(self, source: Source) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        s = self.source
        now_ms = s.time_ms()
        families = [
            (_family(kind, name, doc, ["node", "kind"]), value)
            for kind, name, doc, value in _PER_NODE
        ]
        for info in s.nodes:
            node = _NodeSample(
                info.kind, s.metrics.nodes[info.id], s.metrics.channels.get(info.id), now_ms
            )
            for family, value in families:
                measured = value(node)
                if measured is not None:
                    family.add_metric([info.label, info.kind], measured)
        yield from (family for family, _ in families)
        yield from self._checkpoints(now_ms)
        active = GaugeMetricFamily(
            "rillet_alert_active",
            "1 while an alert of the pipeline file is firing.",
            labels=["alert"],
        )
        for status in s.alerts:
            active.add_metric([status.alert.name], 1.0 if status.active else 0.0)
        yield active
        yield GaugeMetricFamily(
            "rillet_uptime_seconds", "Time since the run started.", value=s.elapsed_s()
        )

    def _checkpoints(self, now_ms: int) -> Iterator[Metric]:
        c = self.source.metrics.checkpoints
        yield CounterMetricFamily("rillet_checkpoints", "Checkpoints completed.", value=c.completed)
        yield _histogram(
            "rillet_checkpoint_duration_seconds",
            "From a checkpoint's first barrier to its manifest written.",
            c.duration_s,
        )
        yield _histogram(
            "rillet_checkpoint_size_bytes", "Operator state saved per checkpoint.", c.size_bytes
        )
        if c.last is not None:
            yield GaugeMetricFamily(
                "rillet_checkpoint_age_seconds",
                "Time since the last checkpoint completed.",
                value=max(0.0, (now_ms - c.last.time_ms) / 1000),
            )


def registry(source: Source) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(RunCollector(source))
    return reg
