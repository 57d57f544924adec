"""Executing a physical graph: one anyio task per node, all in one task group.

`Execution` opens the connectors (`connectors.py`), restores a checkpoint when resuming, and
runs the node loops (`nodetasks.py`) over the channels between them (`topology.py`) beside the
checkpoint cycle (`checkpointer.py`). Every task ends when all of its inputs sent `End`, and
passes `End` on, so a bounded run finishes by itself; an exception anywhere cancels the group
and surfaces from `execute`.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import Any

import anyio
import msgspec

from .alignment import align_sources
from .capability import Seekable, Transactional
from .channel import Outlet
from .checkpoint import CheckpointStore, Manifest, OperatorState, PipelineIdentity
from .checkpointer import Checkpointer
from .clock import Clock, SystemClock
from .compile import PhysicalNode, PhysicalPlan, compile_plan
from .connector import Sink as SinkConnector
from .connector import Source as SourceConnector
from .connectors import build_connectors, load_lookup
from .failure import StateMismatch
from .lineage import HoldsInput
from .metrics import RunMetrics
from .nodetasks import NodeTasks
from .plan import Lookup, Plan
from .plugin import Registry
from .pluginload import registry_of
from .resume import any_unread, continued
from .topology import Topology
from .upgrade import compare, mismatch, saved_state


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
        drop_state: frozenset[str] = frozenset(),
    ) -> None:
        self.physical = physical
        self.drop_state = drop_state
        self.worker = worker
        self.plan = physical.plan
        self.registry = registry
        self.clock = clock
        self.sources = dict(sources)
        self.sinks = dict(sinks)
        self.metrics = metrics if metrics is not None else RunMetrics()
        self.topology = Topology(physical, self.metrics, clock)
        self.resume = resume
        self.checkpoints = Checkpointer(
            physical,
            clock,
            self.metrics,
            self.topology,
            self.sources,
            self.sinks,
            store,
            resume,
            pipeline,
        )
        self.tasks = NodeTasks(
            physical,
            clock,
            self.metrics,
            self.topology,
            self.checkpoints,
            self.sources,
            self.sinks,
            align_sources(physical, self.plan.settings.max_drift_ms, clock),
        )
        self.nothing_to_do = False  # a finished run's inputs have not grown: run nothing
        self.extend_finished = extend_finished

    async def _open(self, stack: AsyncExitStack) -> None:
        build_connectors(
            self.physical, self.registry, self.clock, self.worker, self.sources, self.sinks
        )
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
                    store = self.checkpoints.store
                    resume = self.resume = continued(resume, store, self.sources)
            for name, sink in self.sinks.items():
                if name in resume.sinks and isinstance(sink, Transactional):
                    sink.restore(resume.sinks[name])
        for sink in self.sinks.values():  # also with nothing to do: a sink may yet commit
            await sink.open()
            stack.push_async_callback(sink.aclose)
        if resume is not None and not self.nothing_to_do:
            self._restore(resume)

    def _saved_states(self, manifest: Manifest) -> dict[int, OperatorState]:
        """The state each operator resumes with (by plan node id), where it still fits the
        pipeline as it is now (`upgrade.py`); a changed or dropped one not accepted with
        `--drop-state` stops the run."""
        upgrade = compare(manifest, self.plan)
        refused = upgrade.unaccepted(self.drop_state)
        if refused or upgrade.unknown(self.drop_state):
            raise StateMismatch(mismatch(self.plan, upgrade, refused, self.drop_state))
        states = {}
        for step in upgrade.steps:
            saved = saved_state(manifest, step)
            if saved is not None and step.node_id is not None:
                states[step.node_id] = saved
        return states

    def _restore(self, manifest: Manifest) -> None:
        operators = [n for n in self.physical.nodes.values() if n.kind == "operator"]
        physical_of = {n.plan_nodes[0].id: n.id for n in operators}
        for plan_id, saved in self._saved_states(manifest).items():
            operator = self.physical.nodes[physical_of[plan_id]].operator
            operator.restore(msgspec.msgpack.decode(saved.state))
            if isinstance(operator, HoldsInput):
                operator.resume_held(saved.held)

    async def run(self) -> RunMetrics:
        started = self.clock.monotonic_s()
        checkpoints = self.checkpoints
        async with AsyncExitStack() as stack:
            for channel in self.topology.channels.values():  # also when opening or a task fails
                stack.callback(channel.close)
            await self._open(stack)
            if self.nothing_to_do:  # but what the finished checkpoint holds is made final, in
                checkpoints.saved = self.resume  # case the run that saved it stopped before that
                await checkpoints.commit_all()
                return self.metrics
            async with anyio.create_task_group() as tg:
                checkpoints.start(tg.cancel_scope)
                if checkpoints.coordinator is not None:
                    tg.start_soon(checkpoints.run, name="rillet checkpointer")
                for node in self.physical.nodes.values():
                    outlets = [self.topology.outlet(node, o) for o in node.outputs]
                    name = f"rillet {node.kind} {node.name}"
                    tg.start_soon(self._node, node, outlets, name=name)
            await checkpoints.end()
            await checkpoints.commit_all()
        self.metrics.elapsed_s = self.clock.monotonic_s() - started
        return self.metrics

    async def _node(self, node: PhysicalNode, outlets: list[Outlet]) -> None:
        await self.tasks.task(node)(node, outlets)
        self.checkpoints.node_ended(node)

    @property
    def last_saved(self) -> Manifest | None:
        """The newest checkpoint this run saved."""
        return self.checkpoints.saved

    def request_stop(self) -> None:
        """Stop reading, take a last checkpoint, then end the run (SIGINT, SIGTERM)."""
        self.checkpoints.request_stop()

    def abort(self) -> None:
        """End the run now; the last complete checkpoint stays in force."""
        self.checkpoints.abort()


def prepare(
    plan: Plan,
    registry: Registry | None = None,
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
    drop_state: frozenset[str] = frozenset(),
) -> Execution:
    """An execution of `plan`, ready to `run()`. Its components come from `registry`, by
    default the installed plugins and those the plan records (`pluginload.registry_of`).
    `sources` and `sinks` replace connectors by name; with a `store`, checkpoints are taken
    into it, and `resume` restores one first.

    The counters go into `metrics` when one is given, so a caller (a test, a monitor) can read
    them while the run goes on. `worker` is (this worker's index, how many) when the run is
    one of several workers (`partition.py`); connectors hear it through their context.
    `extend_finished=False` runs nothing when `resume` is a finished run's checkpoint: a worker
    restarted after it finished must not wait for the others to end again (`resume.py`).
    `pipeline` is recorded in every checkpoint, for a later run to tell what changed;
    `drop_state` names the operators whose saved state no longer fits and may be let go
    (`upgrade.py`)."""
    clock = clock or SystemClock()
    registry = registry if registry is not None else registry_of(plan)
    physical = compile_plan(plan, registry, clock, frozenset(sinks or ()))
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
        drop_state,
    )


async def execute(plan: Plan, registry: Registry | None = None, **kwargs: Any) -> RunMetrics:
    """Run `plan` to the end of its inputs (keyword arguments as for `prepare`)."""
    return await prepare(plan, registry, **kwargs).run()


__all__ = ["Execution", "execute", "prepare"]
