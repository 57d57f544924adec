"""The wiring of a run: one bounded channel into each node that is not a source, the outlets
each node sends on (its data edges, and the extra edges of bad and late records), and the
barrier alignment at each receiver. Built once from the physical plan; the node tasks
(`run.py`) only send and receive on it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .barrier import Alignment
from .capability import HearsEventTime
from .channel import Channel, Outlet
from .clock import Clock
from .compile import PhysicalNode, PhysicalPlan
from .item import END, NO_MORE_EVENTS, Barrier, Batch, Item, Origin, Watermark
from .metrics import NodeMetrics, RunMetrics


class Topology:
    def __init__(self, physical: PhysicalPlan, metrics: RunMetrics, clock: Clock) -> None:
        self.physical = physical
        self.metrics = metrics
        capacity = physical.plan.settings.channel_capacity
        self.channels: dict[int, Channel] = {}
        for node in physical.nodes.values():
            metrics.nodes[node.id] = NodeMetrics(name=node.name, kind=node.kind)
            if node.kind != "source":
                self.channels[node.id] = Channel(capacity, clock)
                metrics.channels[node.id] = self.channels[node.id].metrics
        self._extra_ports: dict[int, int] = {}
        self.error_outlets: dict[int, Outlet] = {}
        self.late_outlets: dict[int, Outlet] = {}
        for node in physical.nodes.values():
            if physical.error_sink is not None and node.kind in ("source", "stage", "operator"):
                self.error_outlets[node.id] = self.outlet(node, physical.error_sink, True)
            if node.late_sink is not None:
                self.late_outlets[node.id] = self.outlet(node, node.late_sink, True)
        self.alignments = {
            node.id: Alignment(self.ports(node))
            for node in physical.nodes.values()
            if node.kind != "source"
        }
        for node_id, alignment in self.alignments.items():
            self.channels[node_id].alignment = alignment

    def outlet(self, node: PhysicalNode, target: int, extra: bool = False) -> Outlet:
        """An outlet from `node` to `target`. Data edges take the target's first ports; extra
        edges (errors, late records) the ports after them."""
        target_node = self.physical.nodes[target]
        if extra:
            port = len(target_node.inputs) + self._extra_ports.get(target, 0)
            self._extra_ports[target] = self._extra_ports.get(target, 0) + 1
        else:
            port = target_node.inputs.index(node.id)
        return self.channels[target].outlet(port, self.metrics.nodes[node.id])

    def ports(self, node: PhysicalNode) -> int:
        return len(node.inputs) + self._extra_ports.get(node.id, 0)

    def _extra_outlets(self, node: PhysicalNode) -> list[Outlet]:
        extra = (self.error_outlets.get(node.id), self.late_outlets.get(node.id))
        return [o for o in extra if o is not None]

    async def broadcast(self, node: PhysicalNode, outlets: list[Outlet], barrier: Barrier) -> None:
        """Send a barrier on every output, then wait until each receiver has aligned it."""
        targets = [*outlets, *self._extra_outlets(node)]
        for outlet in targets:
            await outlet.send(barrier)
        for outlet in targets:
            await outlet.channel.alignment.wait(barrier.checkpoint_id)

    async def send_end(self, node: PhysicalNode, outlets: list[Outlet]) -> None:
        for outlet in [*outlets, *self._extra_outlets(node)]:
            await outlet.send(END)

    async def send_errors(self, node: PhysicalNode, errors: list[dict]) -> None:
        self.metrics.nodes[node.id].errors += len(errors)
        outlet = self.error_outlets[node.id]
        await outlet.send(Batch(errors, [e["offset"] for e in errors], Origin("errors")))


async def send_all(outlets: list[Outlet], item: Item, metrics: NodeMetrics) -> None:
    """Send `item` on every outlet, counting what leaves the node."""
    for outlet in outlets:
        await outlet.send(item)
    if isinstance(item, Batch):
        metrics.batches_out += 1
        metrics.records_out += len(item.records)
    elif isinstance(item, Watermark) and not item.idle and item.ts_ms < NO_MORE_EVENTS:
        metrics.watermark_ms = item.ts_ms


def holding_sources(physical: PhysicalPlan, sinks: Mapping[str, Any]) -> set[int]:
    """The sources whose end of input may fire something (a window, a global aggregate): those
    from which an operator can be reached, so their end waits for the drain checkpoint. Not
    those that feed a sink passing the end on to another process (the shuffle between
    workers): the other workers wait for that end before they reach their own."""
    holding = set()
    for node in physical.nodes.values():
        if node.kind != "source":
            continue
        seen, todo, operators = set(), list(node.outputs), False
        while todo:
            current = physical.nodes[todo.pop()]
            if current.kind == "sink" and isinstance(sinks[current.name], HearsEventTime):
                break
            operators |= current.kind == "operator"
            if current.id not in seen:
                seen.add(current.id)
                todo += current.outputs
        else:
            if operators:
                holding.add(node.id)
    return holding
