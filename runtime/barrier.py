"""Barrier alignment: a node takes its part in checkpoint `n` once `Barrier(n)` arrived on every
input that has not ended.

Alignment blocks at the sender: after sending `Barrier(n)` to a node with several inputs, a
sender waits until that node has aligned `n`, so nothing it sends after the barrier can reach
the node before the node's snapshot, and no input needs buffering. A node sends a barrier to all
of its outputs before waiting on any, which keeps the wait free of cycles in a DAG.
"""

from __future__ import annotations

import anyio


class Alignment:
    def __init__(self, ports: int) -> None:
        self.ports = ports
        self.ended: set[int] = set()
        self.arrived: dict[int, set[int]] = {}
        self.done: dict[int, anyio.Event] = {}
        self.released = 0  # checkpoints are aligned in order: every id up to this one is done

    def event(self, checkpoint_id: int) -> anyio.Event:
        if checkpoint_id not in self.done:
            self.done[checkpoint_id] = anyio.Event()
        return self.done[checkpoint_id]

    def arrive(self, port: int, checkpoint_id: int) -> bool:
        """Record `Barrier(checkpoint_id)` on `port`; True when the node is now aligned."""
        self.arrived.setdefault(checkpoint_id, set()).add(port)
        return self._complete(checkpoint_id)

    def end(self, port: int) -> list[int]:
        """An input ended: the checkpoints now aligned because it no longer counts."""
        self.ended.add(port)
        return [n for n in sorted(self.arrived) if self._complete(n)]

    def _complete(self, checkpoint_id: int) -> bool:
        if len(self.arrived[checkpoint_id] | self.ended) < self.ports:
            return False
        del self.arrived[checkpoint_id]
        return True

    def release(self, checkpoint_id: int) -> None:
        """The node has taken its part: senders waiting on `checkpoint_id` may go on."""
        self.released = max(self.released, checkpoint_id)
        event = self.done.pop(checkpoint_id, None)
        if event is not None:
            event.set()

    async def wait(self, checkpoint_id: int) -> None:
        if self.ports > 1 and checkpoint_id > self.released:
            await self.event(checkpoint_id).wait()
