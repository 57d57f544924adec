"""Counters of a run, per node and per channel, kept as plain values that exporters read.

Updated once per batch (or per control item, or per checkpoint), never per record, so keeping
them costs nothing measurable. The run summary reads them at the end; `rillet.runtime.monitor` reads
them while the run goes on, from the event loop and from its HTTP thread: plain numbers that
one writer updates are safe enough to read there for monitoring. Everything here is bounded.
"""

from __future__ import annotations

from collections import deque

import msgspec
from msgspec import field


class NodeMetrics(msgspec.Struct):
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
    watermark_ms: int | None = None
    """The last watermark this node passed on (a sink: received); None before the first."""
    part: int | None = None
    """A hybrid source (`then`): the part it reads, from 1; None for any other node."""
    reading: str | None = None
    """A hybrid source: that part as the live view shows it (`part 2 of 2: kafka(...)`)."""


class ChannelMetrics(msgspec.Struct):
    """One node's input channel. `queued_records` counts records sent but not yet received,
    including a batch whose sender is waiting for room."""

    capacity_batches: int
    queued_batches: int = 0
    queued_records: int = 0
    max_queued_records: int = 0


class Histogram(msgspec.Struct):
    """Observations counted in fixed buckets (`counts[i]`: those at most `bounds[i]`, the last
    one counting those above every bound), with their sum: constant size however long the
    run."""

    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    sum: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        index = next((i for i, bound in enumerate(self.bounds) if value <= bound), len(self.bounds))
        self.counts[index] += 1
        self.sum += value
        self.count += 1


CHECKPOINT_HISTORY = 100
"""Completed checkpoints remembered for display; older ones live on in the histograms."""
DURATION_BOUNDS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SIZE_BOUNDS_BYTES = (1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9)


class CheckpointRecord(msgspec.Struct, frozen=True):
    checkpoint_id: int
    time_ms: int
    """Wall-clock time it completed, epoch ms."""
    duration_s: float | None
    """From the first barrier to the manifest written; None for the final one of a finished
    run, which no barrier began."""
    size_bytes: int
    """Operator state saved in it."""


class OperatorCheckpoints(msgspec.Struct):
    """One operator's part in the checkpoints of a run."""

    taking_s: float = 0.0
    """Time spent taking its parts (its snapshot or changes, encoded): the data waits meanwhile."""
    written_bytes: int = 0
    """What its parts wrote, together: with incremental checkpoints, only what changed."""
    state_bytes: int = 0
    """Its largest state as a checkpoint kept it (for incremental ones, the stored chain)."""

    def took(self, seconds: float) -> None:
        self.taking_s += seconds

    def saved(self, written: int, state: int) -> None:
        self.written_bytes += written
        self.state_bytes = max(self.state_bytes, state)


class CheckpointMetrics(msgspec.Struct):
    completed: int = 0
    last: CheckpointRecord | None = None
    history: deque[CheckpointRecord] = field(
        default_factory=lambda: deque(maxlen=CHECKPOINT_HISTORY)
    )
    duration_s: Histogram = field(default_factory=lambda: Histogram(DURATION_BOUNDS_S))
    size_bytes: Histogram = field(default_factory=lambda: Histogram(SIZE_BOUNDS_BYTES))
    _began_s: dict[int, float] = field(default_factory=dict)
    """Checkpoints in flight (one at a time, and a last one when stopping)."""
    operators: dict[str, OperatorCheckpoints] = field(default_factory=dict)
    """By the operator's name in the run's metrics."""
    saving_s: float = 0.0
    """Time the saver thread spent writing checkpoints, together."""
    compacted_bytes: int = 0
    """What compacting incremental operators' chains wrote, besides their parts."""

    def operator(self, name: str) -> OperatorCheckpoints:
        found = self.operators.get(name)
        if found is None:
            found = self.operators[name] = OperatorCheckpoints()
        return found

    def begin(self, checkpoint_id: int, now_s: float) -> None:
        self._began_s[checkpoint_id] = now_s

    def complete(self, checkpoint_id: int, time_ms: int, now_s: float, size_bytes: int) -> None:
        began = self._began_s.pop(checkpoint_id, None)
        duration = None if began is None else now_s - began
        record = CheckpointRecord(checkpoint_id, time_ms, duration, size_bytes)
        if duration is not None:
            self.duration_s.observe(duration)
        self.size_bytes.observe(size_bytes)
        self.completed += 1
        self.history.append(record)
        self.last = record


class RunMetrics(msgspec.Struct):
    nodes: dict[int, NodeMetrics] = field(default_factory=dict)
    channels: dict[int, ChannelMetrics] = field(default_factory=dict)
    checkpoints: CheckpointMetrics = field(default_factory=CheckpointMetrics)
    elapsed_s: float = 0.0

    def by_kind(self, kind: str) -> list[NodeMetrics]:
        return [m for m in self.nodes.values() if m.kind == kind]
