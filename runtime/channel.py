"""Bounded channels between operators, sized in batches.

Each node has one input channel; every upstream edge writes to it through an `Outlet` that tags
items with the edge's port, so a node with several inputs (union, join, a shared sink) tells them
apart without a task per input. A full channel blocks the sender, which blocks its own input, back
to the source: memory stays within channels × capacity × batch size whatever the input size.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

import anyio
from anyio import WouldBlock
from anyio.lowlevel import checkpoint
from anyio.streams.memory import (
    MemoryObjectReceiveStream,
    MemoryObjectSendStream,
    MemoryObjectStreamStatistics,
)

from .clock import Clock
from .item import Batch, Item
from .metrics import ChannelMetrics, NodeMetrics

TURN_AFTER_S = 0.001
"""Work since a node's last receive after which it yields to the event loop before the next:
a yield costs about 10 µs, so this bounds its cost near 1 % of the node's time, while a batch
of a fast chain (a tenth of a millisecond) goes on without one."""


class Channel:
    def __init__(self, capacity_batches: int, clock: Clock) -> None:
        self.metrics = ChannelMetrics(capacity_batches=capacity_batches)
        self._clock = clock
        send, receive = anyio.create_memory_object_stream[tuple[int, Item]](capacity_batches)
        self._send: MemoryObjectSendStream[tuple[int, Item]] = send
        self._receive: MemoryObjectReceiveStream[tuple[int, Item]] = receive
        self._taken_s = 0.0  # when the node last received (`perf_counter`)
        self.alignment: Any = None
        """The receiving node's `barrier.Alignment`: senders of a barrier wait on it."""

    def outlet(self, port: int, sender: NodeMetrics) -> Outlet:
        return Outlet(self, port, sender)

    async def receive(self) -> tuple[int, Item]:
        """The next item. One that is waiting is taken without a turn of the event loop (its
        sender yielded when it sent it) unless the node worked `TURN_AFTER_S` or longer since
        it last received: then the others get their turn first (a checkpoint's steps, a slow
        node's neighbours), however long its batches take."""
        if perf_counter() - self._taken_s < TURN_AFTER_S:
            try:
                port, item = self._receive.receive_nowait()
            except WouldBlock:
                port, item = await self._receive.receive()
        else:
            port, item = await self._receive.receive()
        self._taken_s = perf_counter()
        if isinstance(item, Batch):
            self.metrics.queued_batches -= 1
            self.metrics.queued_records -= len(item.records)
        return port, item

    def statistics(self) -> MemoryObjectStreamStatistics:
        """The underlying stream's: items buffered (at most the capacity), tasks waiting."""
        return self._receive.statistics()

    def close(self) -> None:
        self._send.close()
        self._receive.close()


class Outlet:
    """The sending end of one edge: records blocked time on the sender's metrics."""

    __slots__ = ("channel", "_port", "_sender")

    def __init__(self, channel: Channel, port: int, sender: NodeMetrics) -> None:
        self.channel = channel
        self._port = port
        self._sender = sender

    async def send(self, item: Item) -> None:
        channel = self.channel
        if isinstance(item, Batch):
            m = channel.metrics
            m.queued_batches += 1
            m.queued_records += len(item.records)
            if m.queued_records > m.max_queued_records:
                m.max_queued_records = m.queued_records
        try:
            channel._send.send_nowait((self._port, item))
        except WouldBlock:
            started = channel._clock.monotonic_s()
            await channel._send.send((self._port, item))
            self._sender.blocked_s += channel._clock.monotonic_s() - started
        else:
            await checkpoint()
