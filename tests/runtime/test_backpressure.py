"""Backpressure (runtime/channel.py, runtime/run.py): a slow sink behind a fast source keeps the
records in flight within what channel capacities × batch size imply, however large the input.
Asserted on the run's metrics as the sink sees them at every write, never on time.

The bound, from channel.py: a channel's buffer holds at most `capacity` items, and
`queued_records` counts a batch from the moment its sender starts `send` until the receiver
takes it, so a sender blocked on a full channel adds one batch: at most (capacity + 1) batches
per channel with one sender. A receiver woken with a batch handed over directly takes it before
its sender (which yields after every send) can send again, so that hand-over never adds one
more. Summed over the channels of a linear pipeline:

    sum(queued_records) <= channels × (capacity + 1) × batch_size

Records between the source and the sink (source records_out − sink records_in) are the queued
ones not held by a blocked source (whose records_out counts only after its send returned) plus
the one batch a stage holds while it computes or waits to send, so they stay within
(2 × capacity + 1) batches for source → stage → sink, inside the same bound.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import anyio
from anyio import wait_all_tasks_blocked
from anyio.lowlevel import checkpoint

from rillet.runtime import RunMetrics, execute
from tests.conftest import compile_pipeline, run_pipeline

EVENTS = 200_000
BATCH = 100
CAPACITY = 2


class SlowSink:
    """Yields to the scheduler several times per write and samples the run's metrics."""

    def __init__(self, metrics: RunMetrics, pauses: int) -> None:
        self.metrics = metrics
        self.pauses = pauses
        self.queued: list[int] = []
        self.in_flight: list[int] = []
        self.records = 0

    async def open(self) -> None:
        pass

    async def write(self, records: list[dict]) -> None:
        m = self.metrics
        self.records += len(records)
        self.queued.append(sum(ch.queued_records for ch in m.channels.values()))
        (source,) = m.by_kind("source")
        (sink,) = m.by_kind("sink")
        self.in_flight.append(source.records_out - sink.records_in)
        for _ in range(self.pauses):
            await checkpoint()

    async def aclose(self) -> None:
        pass


def test_records_in_flight_stay_within_channel_bound_behind_slow_sink(tmp_path: Path) -> None:
    metrics = RunMetrics()
    sink = SlowSink(metrics, pauses=5)
    run_pipeline(
        f"set batch_size = {BATCH}\nset channel_capacity = {CAPACITY}\n"
        f'source s = generate(count={EVENTS}, seed=3)\nsink o = file("o.jsonl")\n'
        "s | derive next_user = user + 1 | into o\n",
        tmp_path,
        sinks={"o": sink},
        metrics=metrics,
    )

    channels = len(metrics.channels)
    bound = channels * (CAPACITY + 1) * BATCH
    assert channels == 2  # the fused stage's input and the sink's input
    assert EVENTS >= 300 * bound
    assert sink.records == EVENTS
    assert max(sink.queued) <= bound
    assert max(sink.in_flight) <= (2 * CAPACITY + 1) * BATCH <= bound
    assert max(ch.max_queued_records for ch in metrics.channels.values()) <= (CAPACITY + 1) * BATCH
    # the sink was the bottleneck: channels filled up, so the bound was actually reached for
    assert max(sink.queued) >= CAPACITY * BATCH
    assert max(sink.in_flight) >= CAPACITY * BATCH
    assert all(ch.queued_records == 0 for ch in metrics.channels.values())


class StuckSink:
    """Never finishes its first write."""

    def __init__(self) -> None:
        self.release = anyio.Event()
        self.writes = 0

    async def open(self) -> None:
        pass

    async def write(self, records: list[dict]) -> None:
        self.writes += 1
        await self.release.wait()

    async def aclose(self) -> None:
        pass


def test_source_stops_reading_while_sink_is_stuck(tmp_path: Path) -> None:
    """Once every task waits, exactly the bound is in the channels and the source reads no more:
    the sink holds 1 batch, its channel `capacity`, the stage 1 blocked on it, the stage's
    channel `capacity`, and the source 1 more, blocked on that channel."""
    compiled = compile_pipeline(
        f"set batch_size = {BATCH}\nset channel_capacity = {CAPACITY}\n"
        f'source s = generate(count={EVENTS}, seed=3)\nsink o = file("o.jsonl")\n'
        "s | derive x = 1 | into o\n",
        tmp_path,
    )
    assert compiled.plan is not None and compiled.checked is not None
    plan, registry = compiled.plan, compiled.checked.registry
    metrics = RunMetrics()
    sink = StuckSink()

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(partial(execute, plan, registry, sinks={"o": sink}, metrics=metrics))
            await wait_all_tasks_blocked()
            tg.cancel_scope.cancel()

    anyio.run(main)
    (source,) = metrics.by_kind("source")
    (stage,) = metrics.by_kind("stage")
    assert sink.writes == 1
    assert [ch.queued_records for ch in metrics.channels.values()] == [(CAPACITY + 1) * BATCH] * 2
    assert stage.records_in == (CAPACITY + 2) * BATCH
    assert source.records_out == (2 * CAPACITY + 2) * BATCH
