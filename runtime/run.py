"""Executing a physical graph: one anyio task per node, all in one task group.

Sources read batches and push them downstream; stages apply their compiled function;
operators (`operator.py`) keep state across batches and react to watermarks; sinks write.
Every task ends when all of its inputs sent `End`, and passes `End` on, so a bounded run
finishes by itself; an exception anywhere cancels the group and surfaces from `execute`.
Bad records become error records sent to the error sink's channel, or, with no error sink, stop
the run with a `RecordError` naming the offset and the operator's place in the pipeline file.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import Any

import anyio
import msgspec

from .badrecord import error_record, failed, location, make_typed, unreadable
from .capability import (
    Committing,
    Flushing,
    HearsEventTime,
    Positioned,
    Seekable,
    Transactional,
)
from .channel import Outlet
from .checkpoint import (
    CheckpointStore,
    Coordinator,
    Manifest,
    OperatorState,
    PipelineIdentity,
    fingerprint,
)
from .clock import Clock, SystemClock
from .compile import PhysicalNode, PhysicalPlan, compile_plan, operator_name
from .connector import BadRecord
from .connector import Sink as SinkConnector
from .connector import Source as SourceConnector
from .connectors import build_connectors, load_lookup
from .eventtime import EventTimeOperator
from .expr import describe_error
from .failure import StateMismatch
from .inputs import Inputs
from .item import NEVER, TICK, Barrier, Batch, End, Item, Origin, Tick, Watermark
from .metrics import RunMetrics
from .operator import Output
from .plan import Lookup, Node, Plan
from .plugin import Registry
from .resume import any_unread, continued
from .schema import Schema
from .topology import Topology, holding_sources, send_all


class Execution:
    """One run of a physical plan: the channels, connectors, metrics and tasks."""

    def __init__(
        self,
        physical: PhysicalPlan,
        registry: Registry,
        clock: Clock,
        sources: Mapping[str, SourceConnector],
        sinks: Mapping[str, SinkConnector],
        metrics: RunMetrics | None = None,
        store: CheckpointStore | None = None,
        resume: Manifest | None = None,
        worker: tuple[int, int] = (0, 1),
        extend_finished: bool = True,
        pipeline: PipelineIdentity | None = None,
    ) -> None:
        self.physical = physical
        self.worker, self.workers = worker
        self.plan = physical.plan
        self.registry = registry
        self.clock = clock
        self.sources = dict(sources)
        self.sinks = dict(sinks)
        self.metrics = metrics if metrics is not None else RunMetrics()
        self.topology = Topology(physical, self.metrics, clock)
        self.resume = resume
        self.coordinator = (
            None
            if store is None
            else Coordinator(
                store,
                len(physical.nodes),
                clock.time_ms,
                first_id=resume.checkpoint_id + 1 if resume else 1,
                on_complete=self._checkpointed,
                pipeline=pipeline,
            )
        )
        self._requests: dict[int, list[int]] = {
            n.id: [] for n in physical.nodes.values() if n.kind == "source"
        }
        self._stop_at: int | None = None
        self._running = len(physical.nodes)
        self._checkpoints: anyio.CancelScope | None = None  # made in the event loop by `run`
        self.stopped = False
        self._nodes_scope: anyio.CancelScope | None = None
        self._saved: Manifest | None = None  # the newest checkpoint written to the store
        self._committed: dict[tuple[str, str], int] = {}  # connector -> checkpoint committed
        self._finished: list[tuple[str, str, Any]] = []  # connectors whose node task ended
        self._newly_saved: anyio.Event | None = None  # made in the event loop by `run`
        self._holding: set[int] = set()  # sources that hold their end (`_hold_end`)
        self._exhausted: set[int] = set()  # holding sources at the end of their input
        self._drain_id: int | None = None  # the checkpoint taken once all of them are there
        self._requested: anyio.Event | None = None  # made in the event loop by `run`
        self.nothing_to_do = False  # a finished run's inputs have not grown: run nothing
        self.extend_finished = extend_finished

    async def _open(self, stack: AsyncExitStack) -> None:
        worker = (self.worker, self.workers)
        build_connectors(self.physical, self.registry, self.clock, worker, self.sources, self.sinks)
        for node in self.physical.nodes.values():
            op = node.plan_nodes[0].op
            if isinstance(op, Lookup):
                node.operator = await load_lookup(op, self.plan, self.registry, self.clock)
        # sources first: a missing input must fail before a sink truncates its output
        for source in self.sources.values():
            await source.open()
            stack.push_async_callback(source.aclose)
        resume = self.resume
        if resume is not None:
            for name, source in self.sources.items():
                if name in resume.sources and isinstance(source, Seekable):
                    source.seek(resume.sources[name])
            if resume.finished:
                self._saved_states(resume)  # a changed pipeline is told, even with no input
                self.nothing_to_do = not self.extend_finished or not await any_unread(
                    self.sources.values()
                )
                if not self.nothing_to_do:
                    resume = self.resume = continued(resume, self.coordinator, self.sources)
            for name, sink in self.sinks.items():
                if name in resume.sinks and isinstance(sink, Transactional):
                    sink.restore(resume.sinks[name])
        for sink in self.sinks.values():  # also with nothing to do: a sink may yet commit
            await sink.open()
            stack.push_async_callback(sink.aclose)
        if resume is not None and not self.nothing_to_do:
            self._restore(resume)

    def _saved_states(self, manifest: Manifest) -> dict[int, OperatorState]:
        """Each operator's saved state, checked to fit the pipeline as it is now."""
        states = {}
        for node in self.physical.nodes.values():
            if node.kind != "operator":
                continue
            plan_node = node.plan_nodes[0]
            saved = manifest.operators.get(str(plan_node.id))
            if saved is None or saved.fingerprint != fingerprint(plan_node.op):
                raise StateMismatch(
                    f"{location(self.plan, plan_node)}: the state saved for "
                    f"`{operator_name(plan_node)}` (checkpoint {manifest.checkpoint_id}) does not "
                    "fit the pipeline as it is now\n  hint: run with --fresh to start over"
                )
            states[node.id] = saved
        return states

    def _restore(self, manifest: Manifest) -> None:
        for node_id, saved in self._saved_states(manifest).items():
            self.physical.nodes[node_id].operator.restore(msgspec.msgpack.decode(saved.state))

    async def run(self) -> RunMetrics:
        started = self.clock.monotonic_s()
        async with AsyncExitStack() as stack:
            for channel in self.topology.channels.values():  # also when opening or a task fails
                stack.callback(channel.close)
            await self._open(stack)
            if self.nothing_to_do:  # but what the finished checkpoint holds is made final, in
                self._saved = self.resume  # case the run that saved it stopped before that
                await self._commit_all()
                return self.metrics
            if self.coordinator is not None:
                self._holding = holding_sources(self.physical, self.sinks)
            self._checkpoints = anyio.CancelScope()
            self._newly_saved = anyio.Event()
            self._requested = anyio.Event()
            async with anyio.create_task_group() as tg:
                self._nodes_scope = tg.cancel_scope
                if self.coordinator is not None:
                    tg.start_soon(self._checkpointer, name="rillet checkpointer")
                for node in self.physical.nodes.values():
                    outlets = [self.topology.outlet(node, o) for o in node.outputs]
                    task = {
                        "source": self._source,
                        "stage": self._stage,
                        "operator": self._operator,
                        "union": self._union,
                        "sink": self._sink,
                    }[node.kind]
                    tg.start_soon(
                        self._node, task, node, outlets, name=f"rillet {node.kind} {node.name}"
                    )
            if self.coordinator is not None and not self.stopped:
                self.coordinator.finish(drained=self._drain_id)
            await self._commit_all()
        self.metrics.elapsed_s = self.clock.monotonic_s() - started
        return self.metrics

    # -- checkpoints -----------------------------------------------------------------------------

    async def _node(self, task: Any, node: PhysicalNode, outlets: list[Outlet]) -> None:
        await task(node, outlets)
        if node.kind in ("source", "sink"):
            connectors = self.sources if node.kind == "source" else self.sinks
            self._finished.append((node.kind, node.name, connectors[node.name]))
        self._running -= 1
        if self._running == 0 and self._checkpoints is not None:  # no more checkpoints to begin
            self._checkpoints.cancel()

    async def _checkpointer(self) -> None:
        assert self._checkpoints is not None
        with self._checkpoints:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._commit_finished, name="rillet committer")
                await self._trigger_every_interval()

    async def _commit_finished(self) -> None:
        """Commit each newly saved checkpoint to the connectors whose node has finished (their
        own task no longer can): a finished shuffle sink's last epoch, say, which the workers
        downstream wait for."""
        while True:
            assert self._newly_saved is not None
            await self._newly_saved.wait()
            self._newly_saved = anyio.Event()
            for kind, name, connector in list(self._finished):
                await self._commit(kind, name, connector)

    async def _trigger_every_interval(self) -> None:
        interval_s = self.plan.settings.checkpoint_interval_ms / 1000
        while self._stop_at is None:
            await self.clock.sleep(interval_s)
            # one checkpoint in flight at a time: when checkpoints take longer than the
            # interval, they must not pile up and starve the data
            assert self.coordinator is not None  # only runs with a checkpoint store tick
            if self._stop_at is None and not self.coordinator.pending:
                self._trigger()

    def _trigger(self) -> int:
        """Begin a checkpoint: each running source places its barrier after its current batch."""
        assert self.coordinator is not None
        checkpoint_id = self.coordinator.begin()
        self.metrics.checkpoints.begin(checkpoint_id, self.clock.monotonic_s())
        for node_id, requests in self._requests.items():
            if node_id not in self.coordinator.retired:
                requests.append(checkpoint_id)
        if self._requested is not None:  # sources holding their end wait for requests
            self._requested.set()
            self._requested = anyio.Event()
        return checkpoint_id

    @property
    def last_saved(self) -> Manifest | None:
        """The newest checkpoint this run saved."""
        return self._saved

    def request_stop(self) -> None:
        """Stop reading, take a last checkpoint, then end the run (SIGINT, SIGTERM)."""
        if self._stop_at is not None:
            return
        if self.coordinator is None or self._nodes_scope is None:
            self.abort()
            return
        self._stop_at = self._trigger()

    def abort(self) -> None:
        """End the run now; the last complete checkpoint stays in force."""
        self.stopped = True
        if self._nodes_scope is not None:
            self._nodes_scope.cancel()

    def _completed(self, manifest: Manifest) -> None:
        self._saved = manifest
        if self._newly_saved is not None:
            self._newly_saved.set()
        if self._stop_at is not None and manifest.checkpoint_id >= self._stop_at:
            self.stopped = True
            assert self._nodes_scope is not None
            self._nodes_scope.cancel()

    async def _commit(self, kind: str, name: str, connector: Any) -> None:
        """Tell a connector that the newest saved checkpoint holds its part (a broker source
        acknowledges upstream, a database sink makes its rows visible). Called from the
        connector's own task, so a connector never sees two calls at once."""
        manifest = self._saved
        if manifest is None or not isinstance(connector, Committing):
            return
        if self._committed.get((kind, name), 0) >= manifest.checkpoint_id:
            return
        parts = manifest.sources if kind == "source" else manifest.sinks
        if name in parts:
            with anyio.CancelScope(shield=True):  # half a commit would have to be made again
                await connector.commit(parts[name])
        self._committed[kind, name] = manifest.checkpoint_id

    async def _commit_all(self) -> None:
        """At the end of a run: commit the last checkpoint everywhere; without checkpoints,
        commit what the run wrote and read, now that all of it is written."""
        if self.coordinator is not None:
            for name, source in self.sources.items():
                await self._commit("source", name, source)
            for name, sink in self.sinks.items():
                await self._commit("sink", name, sink)
            return
        for sink in self.sinks.values():
            if isinstance(sink, Committing):
                await sink.commit(await sink.precommit() if isinstance(sink, Flushing) else None)
        for source in self.sources.values():
            if isinstance(source, Committing):
                await source.commit(_position(source))

    def _checkpointed(self, manifest: Manifest) -> None:
        """Checkpoint metrics first, then whatever completing a checkpoint sets off."""
        size = sum(len(saved.state) for saved in manifest.operators.values())
        self.metrics.checkpoints.complete(
            manifest.checkpoint_id, manifest.time_ms, self.clock.monotonic_s(), size
        )
        self._completed(manifest)

    async def _aligned(self, node: PhysicalNode, checkpoint_id: int, outlets: list[Outlet]) -> None:
        """Take this node's part in a checkpoint, let its senders go on, pass the barrier."""
        if self.coordinator is not None:
            kind, key, value = await self._part(node)
            self.coordinator.contribute(checkpoint_id, node.id, kind, key, value)
        self.topology.alignments[node.id].release(checkpoint_id)
        await self.topology.broadcast(node, outlets, Barrier(checkpoint_id))

    async def _part(self, node: PhysicalNode) -> tuple[str, str | None, Any]:
        if node.kind == "operator":
            plan_node = node.plan_nodes[0]
            state = msgspec.msgpack.encode(node.operator.snapshot())
            return "operator", str(plan_node.id), OperatorState(fingerprint(plan_node.op), state)
        if node.kind == "sink":
            sink = self.sinks[node.name]
            committed = await sink.precommit() if isinstance(sink, Flushing) else None
            return "sink", node.name, committed
        return "pass", None, None

    async def _retire(self, node: PhysicalNode) -> None:
        """The node has finished: its final part stands for it in later checkpoints."""
        if self.coordinator is None:
            return
        if node.kind == "source":
            source = self.sources[node.name]
            position = _position(source)
            self.coordinator.retire(node.id, "source", node.name, position)
        else:
            self.coordinator.retire(node.id, *await self._part(node))

    async def _finish(self, node: PhysicalNode, outlets: list[Outlet]) -> None:
        await self._retire(node)
        await self.topology.send_end(node, outlets)

    # -- node tasks ------------------------------------------------------------------------------

    async def _source(self, node: PhysicalNode, outlets: list[Outlet]) -> None:
        plan_node = node.plan_nodes[0]
        source = self.sources[node.name]
        metrics = self.metrics.nodes[node.id]
        clock = self.clock
        schema = plan_node.op.schema if node.typed else None  # type: ignore[union-attr]
        typed = Schema(schema, typed=True) if schema is not None else None
        while True:
            if self._saved is not None:
                await self._commit("source", node.name, source)
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
            if batch is None:
                break
            origin = Origin(node.name, batch.file, batch.part)
            if batch.bad:
                await self._source_errors(node, plan_node, origin, batch.bad)
            if batch.records:
                await send_all(outlets, Batch(batch.records, batch.offsets, origin), metrics)
            if batch.watermark is not None:
                await send_all(outlets, Watermark(batch.watermark), metrics)
            await self._answer_requests(node, source, outlets)
        if node.id in self._holding:
            await self._hold_end(node, source, outlets)
        await self._finish(node, outlets)

    async def _answer_requests(
        self, node: PhysicalNode, source: SourceConnector, outlets: list[Outlet]
    ) -> None:
        """Take the source's part in each checkpoint asked for since its last batch."""
        requests = self._requests[node.id]
        while requests:
            checkpoint_id = requests.pop(0)
            assert self.coordinator is not None
            position = _position(source)
            self.coordinator.contribute(checkpoint_id, node.id, "source", node.name, position)
            await self.topology.broadcast(node, outlets, Barrier(checkpoint_id))
            if checkpoint_id == self._stop_at:
                await anyio.sleep_forever()  # stopping: read no more

    async def _hold_end(
        self, node: PhysicalNode, source: SourceConnector, outlets: list[Outlet]
    ) -> None:
        """At the end of its input, a source that feeds an operator waits for every other such
        source to get there too (idle meanwhile, so it holds no watermark back); the last one
        begins a checkpoint, which they all take part in before their end goes downstream. That
        checkpoint holds the operators' state from before the end of input fired anything, so a
        rerun over input that has grown since goes on from it (`resume.py`)."""
        await send_all(outlets, Watermark(NEVER, idle=True), self.metrics.nodes[node.id])
        self._exhausted.add(node.id)
        if self._exhausted == self._holding:
            self._drain_id = self._trigger()
        while True:
            requested = self._requested
            if self._saved is not None:
                await self._commit("source", node.name, source)
            await self._answer_requests(node, source, outlets)
            if self._drain_id is not None:  # begun before this answer: answered with it
                return
            assert requested is not None
            await requested.wait()

    async def _source_errors(
        self, node: PhysicalNode, plan_node: Node, origin: Origin, bad: list[BadRecord]
    ) -> None:
        at = location(self.plan, plan_node)
        if node.id not in self.topology.error_outlets:
            raise unreadable(at, origin, bad[0])
        errors = [error_record(b.reason, origin, b.offset, b.raw, "source", at) for b in bad]
        await self.topology.send_errors(node, errors)

    async def _stage(self, node: PhysicalNode, outlets: list[Outlet]) -> None:
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
        metrics = self.metrics.nodes[node.id]
        alignment = self.topology.alignments[node.id]
        if isinstance(item, End):
            ended, merged = inputs.end(port)
            if merged is not None:
                await send_all(outlets, merged, metrics)
            for checkpoint_id in alignment.end(port):
                await self._aligned(node, checkpoint_id, outlets)
            return not ended
        if isinstance(item, Watermark):
            merged = inputs.watermark(port, item)
            if merged is not None:
                await send_all(outlets, merged, metrics)
        elif isinstance(item, Barrier) and alignment.arrive(port, item.checkpoint_id):
            await self._aligned(node, item.checkpoint_id, outlets)
        return True

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

    async def _operator(self, node: PhysicalNode, outlets: list[Outlet]) -> None:
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
                elif isinstance(item, Watermark):
                    merged = inputs.watermark(port, item)
                    forward = _on_watermark(operator, merged, own_watermarks, out)
                elif isinstance(item, Barrier):
                    if alignment.arrive(port, item.checkpoint_id):
                        aligned.append(item.checkpoint_id)
                elif isinstance(item, End):
                    ended, merged = inputs.end(port)
                    aligned = alignment.end(port)
                    if ended:
                        for checkpoint_id in aligned:
                            await self._aligned(node, checkpoint_id, outlets)
                        operator.on_end(out)
                        await self._flush(node, out, origin, outlets)
                        await self._finish(node, outlets)
                        ticks.cancel_scope.cancel()
                        return
                    if merged is not None and not own_watermarks:
                        operator.on_watermark(merged.ts_ms, out)
                        forward = merged
                metrics.busy_s += clock.monotonic_s() - started
                await self._flush(node, out, origin, outlets)
                if forward is not None:
                    await send_all(outlets, forward, metrics)
                for checkpoint_id in aligned:
                    await self._aligned(node, checkpoint_id, outlets)

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

    async def _union(self, node: PhysicalNode, outlets: list[Outlet]) -> None:
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

    async def _sink(self, node: PhysicalNode, outlets: list[Outlet]) -> None:
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
                if merged is not None and not merged.idle:
                    await hears.watermark(merged.ts_ms)
            elif not await self._control(node, port, item, inputs, outlets):
                if hears is not None:
                    await hears.end_of_input()
                await self._retire(node)
                return
            if self._saved is not None:
                await self._commit("sink", node.name, sink)


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


def _position(source: Any) -> Any:
    """Where `source` is, for a checkpoint; None for one that cannot say (a generator)."""
    return source.position() if isinstance(source, Positioned) else None


def prepare(
    plan: Plan,
    registry: Registry,
    *,
    clock: Clock | None = None,
    sources: Mapping[str, SourceConnector] | None = None,
    sinks: Mapping[str, SinkConnector] | None = None,
    metrics: RunMetrics | None = None,
    store: CheckpointStore | None = None,
    resume: Manifest | None = None,
    worker: tuple[int, int] = (0, 1),
    extend_finished: bool = True,
    pipeline: PipelineIdentity | None = None,
) -> Execution:
    """An execution of `plan`, ready to `run()`. `sources` and `sinks` replace connectors by
    name; with a `store`, checkpoints are taken into it, and `resume` restores one first.

    The counters go into `metrics` when one is given, so a caller (a test, a monitor) can read
    them while the run goes on. `worker` is (this worker's index, how many) when the run is
    one of several workers (`partition.py`); connectors hear it through their context.
    `extend_finished=False` runs nothing when `resume` is a finished run's checkpoint: a worker
    restarted after it finished must not wait for the others to end again (`resume.py`).
    `pipeline` is recorded in every checkpoint, for a later run to tell what changed."""
    clock = clock or SystemClock()
    physical = compile_plan(plan, registry, clock)
    return Execution(
        physical,
        registry,
        clock,
        sources or {},
        sinks or {},
        metrics,
        store,
        resume,
        worker,
        extend_finished,
        pipeline,
    )


async def execute(plan: Plan, registry: Registry, **kwargs: Any) -> RunMetrics:
    """Run `plan` to the end of its inputs (keyword arguments as for `prepare`)."""
    return await prepare(plan, registry, **kwargs).run()


__all__ = ["Execution", "execute", "prepare"]
