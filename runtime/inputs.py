"""A node's input ports: which have ended, and the watermark they allow together.

The watermark of several inputs is the minimum of theirs; an input that ended no longer holds it
back, nor does one that said it is idle (until it sends a normal watermark again). The merged
watermark only moves forward.
"""

from __future__ import annotations

from typing import NamedTuple

from .barrier import Alignment
from .item import END_OF_TIME, NEVER, Barrier, End, Item, Watermark


class Inputs:
    def __init__(self, ports: int) -> None:
        self.ports = ports
        self.open = ports
        self.watermarks: list[int | None] = [None] * ports
        self.idle = [False] * ports
        self.emitted: int | None = None
        self.sent_idle = False

    def end(self, port: int) -> tuple[bool, Watermark | None]:
        """(whether every input has ended, a watermark to forward now)."""
        self.open -= 1
        if 0 <= port < self.ports:
            self.watermarks[port] = END_OF_TIME
            self.idle[port] = False
        if self.open <= 0:
            return True, None
        return False, self._advance()

    def watermark(self, port: int, item: Watermark) -> Watermark | None:
        """The merged watermark to forward after `item` arrived on `port`, if it moved."""
        if item.idle:
            self.idle[port] = True
        else:
            self.idle[port] = False
            current = self.watermarks[port]
            self.watermarks[port] = item.ts_ms if current is None else max(current, item.ts_ms)
        return self._advance()

    def _advance(self) -> Watermark | None:
        active = [w for w, idle in zip(self.watermarks, self.idle) if not idle]
        if not active:
            if self.sent_idle:
                return None
            self.sent_idle = True
            return Watermark(self.emitted if self.emitted is not None else NEVER, idle=True)
        if any(w is None for w in active):
            return None
        low = min(w for w in active if w is not None)
        if self.emitted is not None and low <= self.emitted and not self.sent_idle:
            return None
        self.sent_idle = False
        self.emitted = low if self.emitted is None else max(low, self.emitted)
        return Watermark(self.emitted)


class Control(NamedTuple):
    """What a control item arriving on a port means for its node: the same bookkeeping for
    every kind of node, which then acts on it in its own order."""

    watermark: Watermark | None
    """The inputs' merged watermark, when it moved."""
    aligned: list[int]
    """The checkpoints whose barrier has now arrived on every input that has not ended."""
    ended: bool
    """Every input has ended."""


def controlled(item: Item, port: int, inputs: Inputs, alignment: Alignment) -> Control:
    """Merge a watermark, align a barrier, or close a port on `End`."""
    if isinstance(item, End):
        ended, merged = inputs.end(port)
        return Control(merged, alignment.end(port), ended)
    if isinstance(item, Watermark):
        return Control(inputs.watermark(port, item), [], False)
    if isinstance(item, Barrier) and alignment.arrive(port, item.checkpoint_id):
        return Control(None, [item.checkpoint_id], False)
    return Control(None, [], False)
