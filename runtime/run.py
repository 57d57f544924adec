"""Executing a physical graph: one anyio task per node, all in one task group.

Sources read batches and push them downstream; stages apply their compiled function; sinks
write. Every task ends when all of its inputs sent `End`, and passes `End` on, so a bounded run
finishes by itself; an exception anywhere cancels the group and surfaces from `execute`.
Bad records become error records sent to the error sink's channel, or, with no error sink, stop
the run with a `RecordError` naming the offset and the operator's place in the pipeline file.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import msgspec

from .channel import Channel, Outlet
from .clock import Clock, SystemClock
from .compile import PhysicalNode, PhysicalPlan, compile_plan, operator_name
from .connector import BadRecord, ConnectorError, SinkContext, SourceContext
from .connector import Sink as SinkConnector
from .connector import Source as SourceConnector
from .expr import describe_error
from .item import END, Barrier, Batch, End, Item, Origin, Watermark
from .metrics import NodeMetrics, RunMetrics
from .plan import Node, Plan, Sink, Source
from .plugin import Registry
from .schema import Schema


class PipelineError(Exception):
    """The run cannot go on; the message is meant for the pipeline's author."""


class RecordError(PipelineError):
    """A bad record with no error sink to take it."""


def location(plan: Plan, node: Node) -> str:
    if node.span is None:
        return plan.file
    return f"{plan.file}:{node.span.line}:{node.span.col}"


def error_record(reason: str, origin: Origin, offset: int | None, raw: Any,
                 operator: str | None = None, at: str | None = None) -> dict:
    """The record the error sink receives for one bad input."""
    return {"reason": reason, "source": origin.source, "file": origin.file, "offset": offset,
            "operator": operator, "at": at, "raw": raw}


def _describe(record: dict) -> str:
    text = msgspec.json.encode(record, enc_hook=repr).decode()
    return text if len(text) <= 200 else text[:197] + "..."


@dataclass
class _Inputs:
    """Tracks a node's input ports: which ended, and the minimum of their watermarks."""

    ports: int
    ended: int = 0

    def __post_init__(self) -> None:
        self.watermarks = [None] * self.ports

    def end(self) -> bool:
        self.ended += 1
        return self.ended >= self.ports

    def watermark(self, port: int, ts_ms: int) -> Watermark | None:
        self.watermarks[port] = ts_ms
        if any(w is None for w in self.watermarks):
            return None
        return Watermark(min(self.watermarks))  # type: ignore[type-var]


class Execution:
    """One run of a physical plan: the channels, connectors, metrics and tasks."""

    def __init__(self, physical: PhysicalPlan, registry: Registry, clock: Clock,
                 sources: Mapping[str, SourceConnector],
                 sinks: Mapping[str, SinkConnector], metrics: RunMetrics | None = None) -> None:
        self.physical = physical
        self.plan = physical.plan
        self.registry = registry
        self.clock = clock
        self.sources = dict(sources)
        self.sinks = dict(sinks)
        self.metrics = metrics if metrics is not None else RunMetrics()
        capacity = self.plan.settings.channel_capacity
        self.channels: dict[int, Channel] = {}
        for node in physical.nodes.values():
            self.metrics.nodes[node.id] = NodeMetrics(name=node.name, kind=node.kind)
            if node.kind != "source":
                self.channels[node.id] = Channel(capacity, clock)
                self.metrics.channels[node.id] = self.channels[node.id].metrics
        self._error_ports = 0
        self._error_outlets: dict[int, Outlet] = {}
        if physical.error_sink is not None:
            for node in physical.nodes.values():
                if node.kind in ("source", "stage"):
                    self._error_outlets[node.id] = self._outlet(node, physical.error_sink, True)

    def _outlet(self, node: PhysicalNode, target: int, errors: bool = False) -> Outlet:
        """An outlet from `node` to `target`; data edges take the first ports, error edges after."""
        target_node = self.physical.nodes[target]
        if errors:
            port = len(target_node.inputs) + self._error_ports
            self._error_ports += 1
        else:
            port = target_node.inputs.index(node.id)
        return self.channels[target].outlet(port, self.metrics.nodes[node.id])

    def _ports(self, node: PhysicalNode) -> int:
        extra = self._error_ports if node.id == self.physical.error_sink else 0
        return len(node.inputs) + extra

    async def _open(self, stack: AsyncExitStack) -> None:
        base_dir = Path(self.plan.base_dir)
        settings = self.plan.settings
        for node in self.physical.nodes.values():
            op = node.plan_nodes[0].op
            if isinstance(op, Source) and op.name not in self.sources:
                spec = self.registry.get("source", op.connector)
                assert spec is not None and spec.config is not None
                context = SourceContext(
                    name=op.name, schema=Schema(op.schema) if op.schema else None,
                    clock=self.clock, base_dir=base_dir, batch_size=settings.batch_size,
                    batch_timeout_s=settings.batch_timeout_ms / 1000)
                self.sources[op.name] = spec.obj(msgspec.convert(op.config, spec.config), context)
            elif isinstance(op, Sink) and op.name not in self.sinks:
                spec = self.registry.get("sink", op.connector)
                assert spec is not None and spec.config is not None
                context = SinkContext(name=op.name, base_dir=base_dir)
                self.sinks[op.name] = spec.obj(msgspec.convert(op.config, spec.config), context)
        # sources first: a missing input must fail before a sink truncates its output
        for connector in [*self.sources.values(), *self.sinks.values()]:
            await connector.open()
            stack.push_async_callback(connector.aclose)

    async def run(self) -> RunMetrics:
        started = self.clock.monotonic_s()
        async with AsyncExitStack() as stack:
            for channel in self.channels.values():  # also when opening or a task fails
                stack.callback(channel.close)
            await self._open(stack)
            async with anyio.create_task_group() as tg:
                for node in self.physical.nodes.values():
                    outlets = [self._outlet(node, o) for o in node.outputs]
                    task = {"source": self._source, "stage": self._stage,
                            "union": self._union, "sink": self._sink}[node.kind]
                    tg.start_soon(task, node, outlets, name=f"rillet {node.kind} {node.name}")
        self.metrics.elapsed_s = self.clock.monotonic_s() - started
        return self.metrics

    async def _send_all(self, outlets: list[Outlet], item: Item, metrics: NodeMetrics) -> None:
        for outlet in outlets:
            await outlet.send(item)
        if isinstance(item, Batch):
            metrics.batches_out += 1
            metrics.records_out += len(item.records)

    async def _finish(self, node: PhysicalNode, outlets: list[Outlet]) -> None:
        for outlet in outlets:
            await outlet.send(END)
        error_outlet = self._error_outlets.get(node.id)
        if error_outlet is not None:
            await error_outlet.send(END)

    async def _send_errors(self, node: PhysicalNode, errors: list[dict]) -> None:
        self.metrics.nodes[node.id].errors += len(errors)
        outlet = self._error_outlets[node.id]
        await outlet.send(Batch(errors, [e["offset"] for e in errors], Origin("errors")))

    # -- node tasks ------------------------------------------------------------------------------

    async def _source(self, node: PhysicalNode, outlets: list[Outlet]) -> None:
        plan_node = node.plan_nodes[0]
        source = self.sources[node.name]
        metrics = self.metrics.nodes[node.id]
        while (batch := await source.read_batch()) is not None:
            origin = Origin(node.name, batch.file)
            if batch.bad:
                await self._source_errors(node, plan_node, origin, batch.bad)
            if batch.records:
                await self._send_all(outlets, Batch(batch.records, batch.offsets, origin), metrics)
        await self._finish(node, outlets)

    async def _source_errors(self, node: PhysicalNode, plan_node: Node, origin: Origin,
                             bad: list[BadRecord]) -> None:
        at = location(self.plan, plan_node)
        if node.id not in self._error_outlets:
            first = bad[0]
            where = f"{origin.file} " if origin.file else ""
            raise RecordError(
                f"source `{origin.source}` ({at}): bad record at {where}offset {first.offset}: "
                f"{first.reason}\n  hint: add `errors into SINK` to send bad records to a sink "
                "and keep going")
        errors = [error_record(b.reason, origin, b.offset, b.raw, "source", at) for b in bad]
        await self._send_errors(node, errors)

    async def _stage(self, node: PhysicalNode, outlets: list[Outlet]) -> None:
        assert node.stage is not None
        run_batch = node.stage.run
        channel = self.channels[node.id]
        metrics = self.metrics.nodes[node.id]
        inputs = _Inputs(len(node.inputs))
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
                    await self._send_errors(node, errors)
                if records:
                    await self._send_all(outlets, Batch(records, offsets, item.origin), metrics)
            elif not await self._control(port, item, inputs, outlets, metrics):
                await self._finish(node, outlets)
                return

    async def _control(self, port: int, item: Item, inputs: _Inputs, outlets: list[Outlet],
                       metrics: NodeMetrics) -> bool:
        """Handle a control item; False once every input has ended."""
        if isinstance(item, End):
            return not inputs.end()
        if isinstance(item, Watermark):
            merged = inputs.watermark(port, item.ts_ms)
            if merged is not None:
                await self._send_all(outlets, merged, metrics)
        elif isinstance(item, Barrier):
            await self._send_all(outlets, item, metrics)
        return True

    def _error_handler(self, node: PhysicalNode, origin: Origin, errors: list[dict]):
        plan = self.plan
        has_sink = node.id in self._error_outlets

        def on_error(record: dict, offset: int, op_index: int, error: BaseException) -> None:
            plan_node = node.plan_nodes[op_index]
            operator, at = operator_name(plan_node), location(plan, plan_node)
            reason = f"`{operator}` failed: {describe_error(error)}"
            if not has_sink:
                where = f"{origin.file} " if origin.file else ""
                raise RecordError(
                    f"{at}: {reason}\n  record from source `{origin.source}` at {where}offset "
                    f"{offset}: {_describe(record)}\n  hint: add `errors into SINK` to send bad "
                    "records to a sink and keep going")
            errors.append(error_record(reason, origin, offset, record, operator, at))

        return on_error

    async def _union(self, node: PhysicalNode, outlets: list[Outlet]) -> None:
        channel = self.channels[node.id]
        metrics = self.metrics.nodes[node.id]
        inputs = _Inputs(len(node.inputs))
        while True:
            port, item = await channel.receive()
            if isinstance(item, Batch):
                metrics.batches_in += 1
                metrics.records_in += len(item.records)
                await self._send_all(outlets, item, metrics)
            elif not await self._control(port, item, inputs, outlets, metrics):
                await self._finish(node, outlets)
                return

    async def _sink(self, node: PhysicalNode, outlets: list[Outlet]) -> None:
        sink = self.sinks[node.name]
        channel = self.channels[node.id]
        metrics = self.metrics.nodes[node.id]
        inputs = _Inputs(self._ports(node))
        clock = self.clock
        while True:
            _, item = await channel.receive()
            if isinstance(item, Batch):
                metrics.batches_in += 1
                metrics.records_in += len(item.records)
                started = clock.monotonic_s()
                await sink.write(item.records)
                metrics.busy_s += clock.monotonic_s() - started
            elif isinstance(item, End) and inputs.end():
                return


async def execute(plan: Plan, registry: Registry, *, clock: Clock | None = None,
                  sources: Mapping[str, SourceConnector] | None = None,
                  sinks: Mapping[str, SinkConnector] | None = None,
                  metrics: RunMetrics | None = None) -> RunMetrics:
    """Run `plan` to the end of its inputs. `sources` and `sinks` replace connectors by name.

    The counters go into `metrics` when one is given, so a caller (a test, a monitor) can read
    them while the run goes on; the same object is returned at the end."""
    clock = clock or SystemClock()
    physical = compile_plan(plan, registry, clock)
    execution = Execution(physical, registry, clock, sources or {}, sinks or {}, metrics)
    return await execution.run()


__all__ = ["ConnectorError", "PipelineError", "RecordError", "execute"]
