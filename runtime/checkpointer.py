"""The checkpoint cycle of one run: beginning a checkpoint every interval, each node taking its
part when the barrier reaches it, committing to the connectors once the checkpoint is saved,
and stopping after a last one. The node tasks (`nodetasks.py`) call in here at barriers and at
their end; the `Coordinator` (`checkpoint.py`) decides when a checkpoint is complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio
import msgspec

from .capability import Committing, Flushing, HearsEventTime, Positioned
from .channel import Outlet
from .checkpoint import CheckpointStore, Manifest, OperatorState, PipelineIdentity
from .checkpoint import fingerprint as fingerprint_of
from .clock import Clock
from .compile import PhysicalNode, PhysicalPlan
from .connector import Sink, Source
from .coordinator import Coordinator
from .item import NEVER, Barrier, Watermark
from .lineage import FIRST, HoldsInput, Origins
from .metrics import RunMetrics
from .stateid import identities, shape
from .topology import Topology, holding_sources, send_all


def position(source: Any) -> Any:
    """Where `source` is, for a checkpoint; None for one that cannot say (a generator)."""
    return source.position() if isinstance(source, Positioned) else None


def held_since(operator: Any, snapshot: Any, checkpoint_id: int) -> int | None:
    """How far back the input `operator`'s state holds reaches (`lineage.py`): an operator
    that cannot say, and keeps state, is taken to hold everything."""
    if isinstance(operator, HoldsInput):
        return operator.held_since(checkpoint_id)
    return None if snapshot is None else FIRST


def nearest_operators(
    physical: PhysicalPlan, keys: dict[int, str]
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """For each operator (by state key) and each sink (by name), the keys of the nearest
    operators upstream of it, through stages and unions: what `Origins` follows."""
    nodes = physical.nodes

    def above(node: PhysicalNode) -> list[str]:
        found = []
        for i in node.inputs:
            up = nodes[i]
            if up.kind == "operator":
                found.append(keys[up.plan_nodes[0].id])
            elif up.kind != "source":
                found += above(up)
        return found

    operators = {keys[n.plan_nodes[0].id]: above(n) for n in nodes.values() if n.kind == "operator"}
    return operators, {n.name: above(n) for n in nodes.values() if n.kind == "sink"}


class Checkpointer:
    """The checkpoints of one run. Without a store it only commits at the end of the run."""

    def __init__(
        self,
        physical: PhysicalPlan,
        clock: Clock,
        metrics: RunMetrics,
        topology: Topology,
        sources: Mapping[str, Source],
        sinks: Mapping[str, Sink],
        store: CheckpointStore | None,
        resume: Manifest | None,
        pipeline: PipelineIdentity | None,
    ) -> None:
        self.physical = physical
        self.clock = clock
        self.metrics = metrics
        self.topology = topology
        self.sources = sources  # filled in place when the run opens its connectors
        self.sinks = sinks
        self.store = store
        self.keys = identities(physical.plan)  # each operator's state is saved under its own
        self.coordinator = (
            None
            if store is None
            else Coordinator(
                len(physical.nodes),
                clock.time_ms,
                self._complete,
                first_id=resume.checkpoint_id + 1 if resume else 1,
                pipeline=pipeline,
                shape=shape(physical.plan, self.keys),
                origins=Origins(*nearest_operators(physical, self.keys), store.history(), resume),
            )
        )
        self._to_save: list[Manifest] = []  # complete, in order; saved off the event loop
        self._saving = False
        self.saved: Manifest | None = None  # the newest checkpoint written to the store
        self.stopped = False
        self.nodes_scope: anyio.CancelScope | None = None  # the node tasks', set by the run
        self._requests: dict[int, list[int]] = {
            n.id: [] for n in physical.nodes.values() if n.kind == "source"
        }
        self._stop_at: int | None = None
        self._running = len(physical.nodes)
        self._committed: dict[tuple[str, str], int] = {}  # connector -> checkpoint committed
        self._finished: list[tuple[str, str, Any]] = []  # connectors whose node task ended
        self._holding: set[int] = set()  # sources that hold their end (`hold_end`)
        self._exhausted: set[int] = set()  # holding sources at the end of their input
        self._drain_id: int | None = None  # the checkpoint taken once all of them are there
        # made in the event loop by `start`
        self._scope: anyio.CancelScope | None = None
        self._newly_saved: anyio.Event | None = None
        self._requested: anyio.Event | None = None
        self._completed: anyio.Event | None = None

    def start(self, nodes_scope: anyio.CancelScope) -> None:
        """Called in the event loop, before the node tasks start (at once cancelled if the run
        was stopped before: nothing was read, the last checkpoint stays in force)."""
        self.nodes_scope = nodes_scope
        if self.stopped:
            nodes_scope.cancel()
        if self.coordinator is not None:
            self._holding = holding_sources(self.physical, self.sinks)
        self._scope = anyio.CancelScope()
        self._newly_saved = anyio.Event()
        self._requested = anyio.Event()
        self._completed = anyio.Event()

    async def run(self) -> None:
        """Begin a checkpoint every interval, save each one complete, and commit what finished
        nodes leave behind, until every node task has ended."""
        assert self._scope is not None
        async with anyio.create_task_group() as saver:
            saver.start_soon(self._save_when_complete, name="rillet checkpoint saver")
            with self._scope:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._commit_finished, name="rillet committer")
                    await self._trigger_every_interval()
            saver.cancel_scope.cancel()  # what is left to save, `end` saves

    def _complete(self, manifest: Manifest) -> None:
        """Every part of a checkpoint is in: save it (`_save_when_complete`)."""
        self._to_save.append(manifest)
        if self._completed is not None:
            self._completed.set()

    async def _save_when_complete(self) -> None:
        while True:
            assert self._completed is not None
            await self._completed.wait()
            self._completed = anyio.Event()
            await self._save_complete()

    async def _save_complete(self) -> None:
        """Save the complete checkpoints in order, each in a worker thread: a slow disk or a
        remote store must not hold up the data; then what saving one sets off."""
        assert self.store is not None
        self._saving = True
        try:
            while self._to_save:
                manifest = self._to_save.pop(0)
                with anyio.CancelScope(shield=True):  # a save begun is finished
                    await anyio.to_thread.run_sync(self.store.save, manifest)
                self._checkpointed(manifest)
        finally:
            self._saving = False

    def node_ended(self, node: PhysicalNode) -> None:
        if node.kind in ("source", "sink"):
            connectors = self.sources if node.kind == "source" else self.sinks
            self._finished.append((node.kind, node.name, connectors[node.name]))
        self._running -= 1
        if self._running == 0 and self._scope is not None:  # no more checkpoints to begin
            self._scope.cancel()

    async def end(self) -> None:
        """Every node task has ended: the last checkpoint says the run finished."""
        if self.coordinator is None:
            return
        if not self.stopped:
            self.coordinator.finish(drained=self._drain_id)
        await self._save_complete()

    async def _commit_finished(self) -> None:
        """Commit each newly saved checkpoint to the connectors whose node has finished (their
        own task no longer can): a finished shuffle sink's last epoch, say, which the workers
        downstream wait for."""
        while True:
            assert self._newly_saved is not None
            await self._newly_saved.wait()
            self._newly_saved = anyio.Event()
            for kind, name, connector in list(self._finished):
                await self.commit(kind, name, connector)

    async def _trigger_every_interval(self) -> None:
        interval_s = self.physical.plan.settings.checkpoint_interval_ms / 1000
        while self._stop_at is None:
            await self.clock.sleep(interval_s)
            # one checkpoint in flight at a time: when checkpoints take longer than the
            # interval, they must not pile up and starve the data
            assert self.coordinator is not None  # only runs with a checkpoint store tick
            busy = self.coordinator.pending or self._to_save or self._saving
            if self._stop_at is None and not busy:
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

    def request_stop(self) -> None:
        """Stop reading, take a last checkpoint, then end the run."""
        if self._stop_at is not None:
            return
        if self.coordinator is None or self.nodes_scope is None:
            self.abort()
            return
        self._stop_at = self._trigger()

    def abort(self) -> None:
        """End the run now; the last complete checkpoint stays in force."""
        self.stopped = True
        if self.nodes_scope is not None:
            self.nodes_scope.cancel()

    def _checkpointed(self, manifest: Manifest) -> None:
        """Checkpoint metrics first, then whatever completing a checkpoint sets off."""
        size = sum(len(saved.state) for saved in manifest.operators.values())
        self.metrics.checkpoints.complete(
            manifest.checkpoint_id, manifest.time_ms, self.clock.monotonic_s(), size
        )
        self.saved = manifest
        if self._newly_saved is not None:
            self._newly_saved.set()
        if self._stop_at is not None and manifest.checkpoint_id >= self._stop_at:
            self.abort()

    async def commit(self, kind: str, name: str, connector: Any) -> None:
        """Tell a connector that the newest saved checkpoint holds its part (a broker source
        acknowledges upstream, a database sink makes its rows visible). Called from the
        connector's own task, so a connector never sees two calls at once."""
        manifest = self.saved
        if manifest is None or not isinstance(connector, Committing):
            return
        if self._committed.get((kind, name), 0) >= manifest.checkpoint_id:
            return
        parts = manifest.sources if kind == "source" else manifest.sinks
        if name in parts:
            with anyio.CancelScope(shield=True):  # half a commit would have to be made again
                await connector.commit(parts[name])
        self._committed[kind, name] = manifest.checkpoint_id

    async def commit_all(self) -> None:
        """At the end of a run: commit the last checkpoint everywhere; without checkpoints,
        commit what the run wrote and read, now that all of it is written."""
        if self.coordinator is not None:
            for name, source in self.sources.items():
                await self.commit("source", name, source)
            for name, sink in self.sinks.items():
                await self.commit("sink", name, sink)
            return
        for sink in self.sinks.values():
            if isinstance(sink, Committing):
                await sink.commit(await sink.precommit() if isinstance(sink, Flushing) else None)
        for source in self.sources.values():
            if isinstance(source, Committing):
                await source.commit(position(source))

    async def aligned(self, node: PhysicalNode, checkpoint_id: int, outlets: list[Outlet]) -> None:
        """Take this node's part in a checkpoint, let its senders go on, pass the barrier."""
        if self.coordinator is not None:
            kind, key, value = await self._part(node, checkpoint_id)
            self.coordinator.contribute(checkpoint_id, node.id, kind, key, value)
        self.topology.alignments[node.id].release(checkpoint_id)
        await self.topology.broadcast(node, outlets, Barrier(checkpoint_id))

    async def _part(self, node: PhysicalNode, checkpoint_id: int) -> tuple[str, str | None, Any]:
        if node.kind == "operator":
            op = node.plan_nodes[0].op
            snapshot = node.operator.snapshot()
            held = held_since(node.operator, snapshot, checkpoint_id)
            state = msgspec.msgpack.encode(snapshot)
            key = self.keys[node.plan_nodes[0].id]
            return "operator", key, OperatorState(fingerprint_of(op), state, held)
        if node.kind == "sink":
            sink = self.sinks[node.name]
            committed = await sink.precommit() if isinstance(sink, Flushing) else None
            return "sink", node.name, committed
        return "pass", None, None

    async def retire(self, node: PhysicalNode) -> None:
        """The node has finished: its final part stands for it in later checkpoints. A sink
        that passes the end on to another process (the shuffle between workers) has its last
        part committed by the next checkpoint, which begins now: the other workers wait for
        that end, and should not wait for the interval."""
        if self.coordinator is None:
            return
        if node.kind == "source":
            where = position(self.sources[node.name])
            self.coordinator.retire(node.id, "source", node.name, where)
            return
        self.coordinator.retire(node.id, *await self._part(node, self.coordinator.current()))
        relays = node.kind == "sink" and isinstance(self.sinks[node.name], HearsEventTime)
        if relays and self._stop_at is None:
            self._trigger()

    async def answer_requests(self, node: PhysicalNode, source: Source, outlets: list[Outlet]):
        """Take the source's part in each checkpoint asked for since its last batch."""
        requests = self._requests[node.id]
        while requests:
            checkpoint_id = requests.pop(0)
            assert self.coordinator is not None
            where = position(source)
            self.coordinator.contribute(checkpoint_id, node.id, "source", node.name, where)
            await self.topology.broadcast(node, outlets, Barrier(checkpoint_id))
            if checkpoint_id == self._stop_at:
                await anyio.sleep_forever()  # stopping: read no more

    def holds_end(self, node: PhysicalNode) -> bool:
        return node.id in self._holding

    async def hold_end(self, node: PhysicalNode, source: Source, outlets: list[Outlet]) -> None:
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
            if self.saved is not None:
                await self.commit("source", node.name, source)
            await self.answer_requests(node, source, outlets)
            if self._drain_id is not None:  # begun before this answer: answered with it
                return
            assert requested is not None
            await requested.wait()
