"""A run at one moment: per-node rates, channel fill, watermark lag and the bottleneck.

The runtime keeps cumulative counters (`runtime.metrics`); a `Sampler` turns two readings of
them into rates, once a second, and names the bottleneck (`bottleneck`). Everything the terminal
view, the plain lines, the alerts and the dashboard show comes from a `Snapshot`, a frozen
value that is safe to hand to another thread. Read next: `alert.py`, `monitor.py`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping

import msgspec

from rillet.runtime.compile import PhysicalPlan
from rillet.runtime.metrics import CheckpointRecord, NodeMetrics, RunMetrics

FULL = 0.75
"""An input channel this full (3 of the default 4 batches) counts as full for the bottleneck."""
SHOWN_BUSY = 0.005
"""A node busy less than this share of the time (0% once rounded) is not named for its busy time."""
SATURATED = 0.8
"""Nodes busy this share of the time between them keep the event loop busy: the run is bound by
its own work, and the busiest node is the bottleneck although no channel is full."""


class NodeInfo(msgspec.Struct, frozen=True):
    """A node of the physical graph as the monitor names it. `label` is unique in the run (the
    name, with `#id` when two nodes of one kind share it): the `node` label of the metrics."""

    id: int
    name: str
    kind: str
    label: str
    outputs: tuple[int, ...] = ()
    errors_to: int | None = None
    late_to: int | None = None


def topology(physical: PhysicalPlan) -> list[NodeInfo]:
    seen: dict[tuple[str, str], int] = {}
    for node in physical.nodes.values():
        seen[(node.kind, node.name)] = seen.get((node.kind, node.name), 0) + 1
    errors_to = physical.error_sink
    return [
        NodeInfo(
            node.id,
            node.name,
            node.kind,
            node.name if seen[(node.kind, node.name)] == 1 else f"{node.name}#{node.id}",
            tuple(node.outputs),
            errors_to
            if errors_to is not None and node.kind in ("source", "stage", "operator")
            else None,
            node.late_sink,
        )
        for node in physical.nodes.values()
    ]


class Progress(msgspec.Struct, frozen=True):
    """How far a bounded input is read, in bytes; `eta_s` is None until it moves."""

    done: int
    total: int
    eta_s: float | None

    @property
    def share(self) -> float:
        return self.done / self.total if self.total else 1.0


class NodeView(msgspec.Struct, frozen=True):
    info: NodeInfo
    records_in: int
    """Records taken in; for a source, those read (bad ones included)."""
    records_out: int
    errors: int
    late: int
    in_per_s: float
    out_per_s: float
    batch_ms: float | None
    """Busy time per batch over the last interval: the node's batch latency."""
    busy: float
    """Share of the interval the node spent working (a source: reading, and waiting to)."""
    fill: float | None
    """Input channel: batches queued ÷ capacity, at most 1 (None: a source has no input)."""
    queued_records: int
    watermark_ms: int | None
    watermark_lag_ms: int | None
    progress: Progress | None = None
    reading: str | None = None
    """A hybrid source: the part it reads (`part 2 of 2: kafka(...)`)."""


class Snapshot(msgspec.Struct, frozen=True):
    at_s: float
    """Monotonic clock reading."""
    time_ms: int
    """Wall clock, epoch ms."""
    elapsed_s: float
    nodes: tuple[NodeView, ...]
    bottleneck: NodeView | None
    checkpoint: CheckpointRecord | None
    checkpoints_completed: int
    read: int
    """Records read by every source so far (bad ones included)."""
    errors: int
    late: int

    @property
    def checkpoint_age_s(self) -> float:
        """Since the last checkpoint completed, or since the run began when none has."""
        if self.checkpoint is None:
            return self.elapsed_s
        return max(0.0, (self.time_ms - self.checkpoint.time_ms) / 1000)

    def node(self, label: str) -> NodeView:
        return next(n for n in self.nodes if n.info.label == label)


def bottleneck(nodes: list[NodeView]) -> NodeView | None:
    """What holds the flow up: of the nodes feeding a full input channel or at or after one,
    the one busy the largest share of the time; with no channel full, the busiest node when
    the nodes keep the event loop busy (`SATURATED`). None otherwise: the sources set the pace.

    Every node runs on one event loop and yields to it once per batch it sends on, so when the
    loop is saturated each node gets its turn per batch and records need not pile up anywhere:
    the busy shares say who takes the time. A full channel says that records pile up, not who
    is slow: it only says which nodes can be holding the flow up (those after it, down to the
    sinks, and those filling it); their busy shares say which one is. When none of them is
    measurably busy (a node waiting on something outside the loop's work), the one whose input
    is full while none of its outputs is gets named; of several, the fullest, then the furthest
    downstream."""
    by_id = {n.info.id: n for n in nodes}
    fills = {n.info.id: n.fill or 0.0 for n in nodes}
    full = {i for i, fill in fills.items() if fill >= FULL}
    if not full:
        if sum(n.busy for n in nodes) < SATURATED:
            return None
        return max(nodes, key=lambda n: (n.busy, n.info.id))
    reached: set[int] = set()
    stack = list(full)
    while stack:
        node_id = stack.pop()
        if node_id in reached or node_id not in by_id:
            continue
        reached.add(node_id)
        stack += _outputs(by_id[node_id].info)
    reached |= {n.info.id for n in nodes if full.intersection(_outputs(n.info))}

    def weight(n: NodeView) -> tuple[float, bool, float, int]:
        held = n.info.id in full and not full.intersection(_outputs(n.info))
        busy = n.busy if n.busy >= SHOWN_BUSY else 0.0
        return busy, held, fills[n.info.id], n.info.id

    return max((by_id[i] for i in reached), key=weight)


def _outputs(info: NodeInfo) -> list[int]:
    """Where a node sends records: its outputs, its error sink and its `late into` sink."""
    return [*info.outputs, *(x for x in (info.errors_to, info.late_to) if x is not None)]


def reason(neck: NodeView) -> str:
    """Why `bottleneck` named `neck`, in a few words."""
    if neck.busy >= SHOWN_BUSY:
        doing = "reading" if neck.info.kind == "source" else "busy"
        return f"{doing} {round(neck.busy * 100)}% of the time"
    return "input full, output not"


class _Reading(msgspec.Struct):
    records_in: int = 0
    records_out: int = 0
    batches: int = 0
    busy_s: float = 0.0


def _counts(info: NodeInfo, m: NodeMetrics) -> tuple[int, int, int]:
    """(records in, records out, batches handled): a source's input is what it read."""
    if info.kind == "source":
        return m.records_out + m.errors, m.records_out, m.batches_out
    return m.records_in, m.records_out, m.batches_in


RATE_WINDOW_S = 3.0
"""Rates and batch latency are averaged over about this long, so that batches cut by time
(a source at a fixed rate flushes every `batch_timeout`) do not make them jump each second."""


class Sampler:
    """Reads the counters at each `take` and turns their change over the last `window_s` into
    rates. Call it from the event loop, like the run's tasks: it asks sources for progress."""

    def __init__(
        self,
        nodes: list[NodeInfo],
        metrics: RunMetrics,
        started_s: float,
        progress: Mapping[int, Callable[[], tuple[int, int] | None]] | None = None,
        window_s: float = RATE_WINDOW_S,
    ) -> None:
        self.nodes = nodes
        self.metrics = metrics
        self.started_s = started_s
        self.progress = dict(progress or {})
        self.window_s = window_s
        self._readings: deque[tuple[float, dict[int, _Reading]]] = deque(
            [(started_s, {info.id: _Reading() for info in nodes})], maxlen=64
        )
        self._first_progress: dict[int, tuple[float, int]] = {}

    def take(self, now_s: float, time_ms: int) -> Snapshot:
        readings = self._readings
        while len(readings) > 1 and now_s - readings[1][0] >= self.window_s:
            readings.popleft()  # the oldest kept is the newest at least `window_s` old
        base_s, base = readings[0]
        interval = max(now_s - base_s, 1e-9)
        views, current = [], {}
        for info in self.nodes:
            m = self.metrics.nodes[info.id]
            before = base[info.id]
            records_in, records_out, batches = _counts(info, m)
            current[info.id] = _Reading(records_in, records_out, batches, m.busy_s)
            batch_ms = None
            if batches > before.batches:
                batch_ms = (m.busy_s - before.busy_s) / (batches - before.batches) * 1000
            progress = self._progress(info.id, now_s) if info.id in self.progress else None
            channel = self.metrics.channels.get(info.id)
            fill = (
                None
                if channel is None
                else min(1.0, channel.queued_batches / channel.capacity_batches)
            )
            watermark = m.watermark_ms
            views.append(
                NodeView(
                    info,
                    records_in,
                    records_out,
                    m.errors,
                    m.late,
                    (records_in - before.records_in) / interval,
                    (records_out - before.records_out) / interval,
                    batch_ms,
                    min(1.0, (m.busy_s - before.busy_s) / interval),
                    fill,
                    channel.queued_records if channel else 0,
                    watermark,
                    None if watermark is None else time_ms - watermark,
                    progress,
                    m.reading,
                )
            )
        readings.append((now_s, current))
        checkpoints = self.metrics.checkpoints
        return Snapshot(
            now_s,
            time_ms,
            now_s - self.started_s,
            tuple(views),
            bottleneck(views),
            checkpoints.last,
            checkpoints.completed,
            sum(v.records_in for v in views if v.info.kind == "source"),
            sum(v.errors for v in views),
            sum(v.late for v in views),
        )

    def _progress(self, node_id: int, now_s: float) -> Progress | None:
        """Bytes read of a bounded input, and the time left at its average speed so far."""
        reading = self.progress[node_id]()
        if reading is None:
            return None
        done, total = reading
        if not total:  # not open yet (a resumed run seeks when it opens)
            return Progress(done, total, None)
        first_s, first_done = self._first_progress.setdefault(node_id, (now_s, done))
        speed = (done - first_done) / (now_s - first_s) if now_s > first_s else 0.0
        return Progress(done, total, (total - done) / speed if speed > 0 else None)
