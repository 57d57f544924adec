"""The loop each node of a run turns: a source reads batches and sends them on, a stage applies
its generated function, an operator keeps state and reacts to watermarks, a union merges, a
sink writes. Control items (watermarks, barriers, `End`) are handled alike by the nodes without
state (`control`); at barriers and at its end each node calls into the checkpoint cycle
(`checkpointer.py`). Bad records go to the error sink's channel, or stop the run with the
offset and the operator's place in the pipeline file (`badrecord.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import anyio

from . import plan as ir
from .alignment import Alignment
from .badrecord import error_record, failed, location, make_typed, unreadable
from .capability import HearsEventTime, Parted
from .channel import Outlet
from .checkpointer import Checkpointer
from .clock import Clock
from .compile import PhysicalNode, PhysicalPlan, operator_name
from .connector import BadRecord, Sink, Source
from .eventtime import EventTimeOperator
from .expr import describe_error
from .hybrid import HybridSource
from .inputs import Inputs, controlled
from .item import NEVER, TICK, Batch, End, Item, Origin, Tick, Watermark
from .metrics import RunMetrics
from .operator import Output
from .plan import Node
from .schema import Schema
from .topology import Topology, send_all

NodeTask = Callable[[PhysicalNode, list[Outlet]], Coroutine[Any, Any, None]]


class NodeTasks:
    """The node loops of one run, over its topology, connectors and checkpoint cycle."""

    def __init__(
        self,
        physical: PhysicalPlan,
        clock: Clock,
        metrics: RunMetrics,
        topology: Topology,
        checkpoints: Checkpointer,
        sources: Mapping[str, Source],
        sinks: Mapping[str, Sink],
        alignments: Mapping[str, Alignment],
    ) -> None:
        self.alignments = alignments
        self.physical = physical
        self.plan = physical.plan
        self.clock = clock
        self.metrics = metrics
        self.topology = topology
        self.checkpoints = checkpoints
        self.sources = sources
        self.sinks = sinks

    def task(self, node: PhysicalNode) -> NodeTask:
        return {
            "source": self.source,
            "stage": self.stage,
            "operator": self.operator,
            "union": self.union,
            "sink": self.sink,
        }[node.kind]

    async def _finish(self, node: PhysicalNode, outlets: list[Outlet]) -> None:
        await self.checkpoints.retire(node)
        await self.topology.send_end(node, outlets)

    async def source(self, node: PhysicalNode, outlets: list[Outlet]) -> None:
        plan_node = node.plan_nodes[0]
        source = self.sources[node.name]
        metrics = self.metrics.nodes[node.id]
        clock = self.clock
        op = plan_node.op
        schema = op.schema if node.typed and isinstance(op, ir.Source) else None
        typed = Schema(schema, typed=True) if schema is not None else None
        parted = source if isinstance(source, Parted) else None
        hybrid = source if isinstance(source, HybridSource) else None
        alignment = self.alignments.get(node.name)
        while True:
            if self.checkpoints.saved is not None:
                await self.checkpoints.commit("source", node.name, source)
            if alignment is not None and alignment.ahead(node.name):
                await alignment.wait()
                await self.checkpoints.answer_requests(node, source, outlets)
                continue
            started = clock.monotonic_s()  # reading and decoding (and a followed file's wait)
            batch = await source.read_batch()
            if (
                typed is not None
                and batch
                and batch.records
                and type(batch.records[0]) is not typed.type
            ):
                make_typed(batch, typed)  # a connector that did not decode through the schema
            metrics.busy_s += clock.monotonic_s() - started
            if hybrid is not None:
                metrics.part, metrics.reading = hybrid.index + 1, hybrid.reading()
            if batch is None:
                break
            parts = None if parted is None else parted.parts()
            origin = Origin(node.name, batch.file, batch.part, parts)
            if batch.bad:
                await self._source_errors(node, plan_node, origin, batch.bad)
            if batch.records:
                await send_all(outlets, Batch(batch.records, batch.offsets, origin), metrics)
            if batch.watermark is not None:
                await send_all(outlets, Watermark(batch.watermark), metrics)
            if batch.idle:
                await send_all(outlets, Watermark(NEVER, idle=True), metrics)
            await self.checkpoints.answer_requests(node, source, outlets)
        if alignment is not None:
            alignment.end(node.name)
        if self.checkpoints.holds_end(node):
            await self.checkpoints.hold_end(node, source, outlets)
        await self._finish(node, outlets)

    async def _source_errors(
        self, node: PhysicalNode, plan_node: Node, origin: Origin, bad: list[BadRecord]
    ) -> None:
        at = location(self.plan, plan_node)
        if node.id not in self.topology.error_outlets:
            raise unreadable(at, origin, bad[0])
        errors = [error_record(b.reason, origin, b.offset, b.raw, "source", at) for b in bad]
        await self.topology.send_errors(node, errors)

    async def stage(self, node: PhysicalNode, outlets: list[Outlet]) -> None:
        assert node.stage is not None
        run_batch = node.stage.run
        channel = self.topology.channels[node.id]
        metrics = self.metrics.nodes[node.id]
        inputs = Inputs(len(node.inputs))
        clock = self.clock
        while True:
            port, item = await channel.receive()
            if isinstance(item, Batch):
                metrics.batches_in += 1
                metrics.records_in += len(item.records)
                errors: list[dict] = []
                on_error = self._error_handler(node, item.origin, errors)
                started = clock.monotonic_s()
                records, offsets = run_batch(item.records, item.offsets, on_error)
                metrics.busy_s += clock.monotonic_s() - started
                if errors:
                    await self.topology.send_errors(node, errors)
                if records:
                    await send_all(outlets, Batch(records, offsets, item.origin), metrics)
            elif not await self._control(node, port, item, inputs, outlets):
                await self._finish(node, outlets)
                return

    async def _control(
        self, node: PhysicalNode, port: int, item: Item, inputs: Inputs, outlets: list[Outlet]
    ) -> bool:
        """Pass a control item on (watermarks merged over the inputs, barriers aligned);
        False once every input has ended."""
        control = controlled(item, port, inputs, self.topology.alignments[node.id])
        if control.watermark is not None:
            await send_all(outlets, control.watermark, self.metrics.nodes[node.id])
        for checkpoint_id in control.aligned:
            await self.checkpoints.aligned(node, checkpoint_id, outlets)
        return not control.ended

    def _error_handler(self, node: PhysicalNode, origin: Origin, errors: list[dict]):
        plan = self.plan
        has_sink = node.id in self.topology.error_outlets

        def on_error(record: dict, offset: int, op_index: int, error: BaseException) -> None:
            plan_node = node.plan_nodes[op_index]
            operator, at = operator_name(plan_node), location(plan, plan_node)
            reason = f"`{operator}` failed: {self._explain(error)}"
            if not has_sink:
                raise failed(at, reason, origin, offset, record)
            errors.append(error_record(reason, origin, offset, record, operator, at))

        return on_error

    async def operator(self, node: PhysicalNode, outlets: list[Outlet]) -> None:
        operator = node.operator
        channel = self.topology.channels[node.id]
        metrics = self.metrics.nodes[node.id]
        inputs = Inputs(len(node.inputs))
        clock = self.clock
        own_watermarks = isinstance(operator, EventTimeOperator)
        alignment = self.topology.alignments[node.id]
        async with anyio.create_task_group() as ticks:
            if operator.tick_s is not None:
                ticks.start_soon(self._ticker, channel.outlet(-1, metrics), operator.tick_s)
            while True:
                port, item = await channel.receive()
                out, origin, forward = Output(), Origin(node.name), None
                aligned: list[int] = []
                started = clock.monotonic_s()
                if isinstance(item, Batch):
                    metrics.batches_in += 1
                    metrics.records_in += len(item.records)
                    origin = item.origin
                    pending = operator.process(item, port, out)
                    if pending is not None:  # an `async def` plugin operator
                        await pending
                elif isinstance(item, Tick):
                    operator.on_tick(clock.time_ms(), out)
                else:
                    control = controlled(item, port, inputs, alignment)
                    aligned, merged = control.aligned, control.watermark
                    if control.ended:
                        for checkpoint_id in aligned:
                            await self.checkpoints.aligned(node, checkpoint_id, outlets)
                        operator.on_end(out)
                        await self._flush(node, out, origin, outlets)
                        await self._finish(node, outlets)
                        ticks.cancel_scope.cancel()
                        return
                    if isinstance(item, End):
                        if merged is not None and not own_watermarks:
                            operator.on_watermark(merged.ts_ms, out)
                            forward = merged
                    else:
                        forward = _on_watermark(operator, merged, own_watermarks, out)
                metrics.busy_s += clock.monotonic_s() - started
                await self._flush(node, out, origin, outlets)
                if forward is not None:
                    await send_all(outlets, forward, metrics)
                for checkpoint_id in aligned:
                    await self.checkpoints.aligned(node, checkpoint_id, outlets)

    async def _ticker(self, outlet: Outlet, every_s: float) -> None:
        while True:
            await self.clock.sleep(every_s)
            await outlet.send(TICK)

    async def _flush(
        self, node: PhysicalNode, out: Output, origin: Origin, outlets: list[Outlet]
    ) -> None:
        """Send what an operator call produced: records, late records, errors, watermark."""
        metrics = self.metrics.nodes[node.id]
        if out.records:
            await send_all(outlets, Batch(out.records, out.offsets, origin), metrics)
        if out.late:
            metrics.late += len(out.late)
            late_outlet = self.topology.late_outlets.get(node.id)
            if late_outlet is not None:
                await late_outlet.send(Batch(out.late, out.late_offsets, origin))
        if out.errors:
            plan_node = node.plan_nodes[0]
            operator, at = operator_name(plan_node), location(self.plan, plan_node)
            if node.id not in self.topology.error_outlets:
                record, offset, reason = out.errors[0]
                raise failed(at, f"`{operator}` failed: {reason}", origin, offset, record)
            await self.topology.send_errors(
                node,
                [
                    error_record(
                        f"`{operator}` failed: {reason}", origin, offset, record, operator, at
                    )
                    for record, offset, reason in out.errors
                ],
            )
        if out.watermark is not None:
            await send_all(outlets, Watermark(out.watermark), metrics)
        if out.idle:
            await send_all(outlets, Watermark(NEVER, idle=True), metrics)

    def _explain(self, error: BaseException) -> str:
        """An expression's failure; when a function raised, which one and from which plugin."""
        frame = error.__traceback__
        while frame is not None:
            spec = self.physical.functions.get(frame.tb_frame.f_code)
            if spec is not None:
                return (
                    f"function `{spec.name}` (plugin `{spec.plugin}`) raised "
                    f"{type(error).__name__}: {error}"
                )
            frame = frame.tb_next
        return describe_error(error)

    async def union(self, node: PhysicalNode, outlets: list[Outlet]) -> None:
        channel = self.topology.channels[node.id]
        metrics = self.metrics.nodes[node.id]
        inputs = Inputs(len(node.inputs))
        while True:
            port, item = await channel.receive()
            if isinstance(item, Batch):
                metrics.batches_in += 1
                metrics.records_in += len(item.records)
                await send_all(outlets, item, metrics)
            elif not await self._control(node, port, item, inputs, outlets):
                await self._finish(node, outlets)
                return

    async def sink(self, node: PhysicalNode, outlets: list[Outlet]) -> None:
        sink = self.sinks[node.name]
        channel = self.topology.channels[node.id]
        metrics = self.metrics.nodes[node.id]
        inputs = Inputs(self.topology.ports(node))
        clock = self.clock
        hears = sink if isinstance(sink, HearsEventTime) else None
        while True:
            port, item = await channel.receive()
            if isinstance(item, Batch):
                metrics.batches_in += 1
                metrics.records_in += len(item.records)
                started = clock.monotonic_s()
                await sink.write(item.records)
                metrics.busy_s += clock.monotonic_s() - started
            elif isinstance(item, Watermark) and hears is not None:
                merged = inputs.watermark(port, item)
                if merged is not None and merged.idle:
                    await hears.idle()
                elif merged is not None:
                    await hears.watermark(merged.ts_ms)
            elif not await self._control(node, port, item, inputs, outlets):
                if hears is not None:
                    await hears.end_of_input()
                await self.checkpoints.retire(node)
                return
            if self.checkpoints.saved is not None:
                await self.checkpoints.commit("sink", node.name, sink)


def _on_watermark(
    operator: Any, merged: Watermark | None, own_watermarks: bool, out: Output
) -> Watermark | None:
    """Hand an operator its inputs' merged watermark; what to pass on. An operator that makes
    its own watermarks (`event_time`) still passes on that its inputs are idle (a source at its
    end, waiting for the others)."""
    if merged is None or not (merged.idle or not own_watermarks):
        return None
    if not merged.idle:
        operator.on_watermark(merged.ts_ms, out)
    return merged
