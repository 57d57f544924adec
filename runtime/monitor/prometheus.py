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

from rillet.runtime.metrics import Histogram, RunMetrics

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
        labels = ["node", "kind"]
        records_in = CounterMetricFamily(
            "rillet_records_in",
            "Records a node took in (a source: read, bad ones included).",
            labels=labels,
        )
        records_out = CounterMetricFamily(
            "rillet_records_out", "Records a node sent on.", labels=labels
        )
        errors = CounterMetricFamily(
            "rillet_errors",
            "Bad records: unreadable, invalid, or failing an expression.",
            labels=labels,
        )
        late = CounterMetricFamily(
            "rillet_late", "Records that arrived after their window closed.", labels=labels
        )
        busy = CounterMetricFamily(
            "rillet_busy_seconds", "Time a node spent working on batches.", labels=labels
        )
        blocked = CounterMetricFamily(
            "rillet_blocked_seconds",
            "Time a node waited for room downstream (backpressure).",
            labels=labels,
        )
        fill = GaugeMetricFamily(
            "rillet_channel_fill_ratio",
            "A node's input channel: batches queued / capacity.",
            labels=labels,
        )
        queued = GaugeMetricFamily(
            "rillet_channel_queued_records",
            "Records waiting in a node's input channel.",
            labels=labels,
        )
        capacity = GaugeMetricFamily(
            "rillet_channel_capacity_batches",
            "Batches a node's input channel holds.",
            labels=labels,
        )
        watermark = GaugeMetricFamily(
            "rillet_watermark_milliseconds",
            "The last watermark a node passed on, epoch ms.",
            labels=labels,
        )
        lag = GaugeMetricFamily(
            "rillet_watermark_lag_seconds",
            "Wall-clock time minus a node's watermark.",
            labels=labels,
        )
        now_ms = s.time_ms()
        for info in s.nodes:
            m = s.metrics.nodes[info.id]
            key = [info.label, info.kind]
            taken = m.records_out + m.errors if info.kind == "source" else m.records_in
            records_in.add_metric(key, taken)
            records_out.add_metric(key, m.records_out)
            errors.add_metric(key, m.errors)
            late.add_metric(key, m.late)
            busy.add_metric(key, m.busy_s)
            blocked.add_metric(key, m.blocked_s)
            channel = s.metrics.channels.get(info.id)
            if channel is not None:
                fill.add_metric(key, min(1.0, channel.queued_batches / channel.capacity_batches))
                queued.add_metric(key, channel.queued_records)
                capacity.add_metric(key, channel.capacity_batches)
            if m.watermark_ms is not None:
                watermark.add_metric(key, m.watermark_ms)
                lag.add_metric(key, (now_ms - m.watermark_ms) / 1000)
        yield from (
            records_in,
            records_out,
            errors,
            late,
            busy,
            blocked,
            fill,
            queued,
            capacity,
            watermark,
            lag,
        )
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
