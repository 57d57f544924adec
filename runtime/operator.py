"""Stateful operators: what they implement, and the `Output` they write into.

The runtime calls an operator in the order items arrive on its input channel: `process` for each
batch, `on_watermark` when the minimum watermark of its inputs advances, `on_tick` on the clock
for operators that ask for ticks (processing-time windows, idle inputs), and `on_end` once every
input has ended. Each call writes into an `Output`; the runtime sends its records downstream, its
late records to the `late into` sink, its errors to the error sink, in that order, and then
passes the watermark on. `snapshot()` returns msgspec-encodable state (the built-in operators' a
versioned Struct, runtime/opstate.py) and `restore()` takes it back as msgpack decodes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import msgspec
from msgspec import field

from .item import Batch


class Output(msgspec.Struct):
    records: list[dict] = field(default_factory=list)
    offsets: list[int | None] = field(default_factory=list)
    late: list[dict] = field(default_factory=list)
    late_offsets: list[int | None] = field(default_factory=list)
    errors: list[tuple[dict, int | None, str]] = field(default_factory=list)
    watermark: int | None = None
    """A watermark this operator produces itself (`event_time`), sent after the records."""
    idle: bool = False
    """The operator's input went idle: downstream stops waiting for its watermark."""

    def emit(self, record: dict, offset: int | None = None) -> None:
        self.records.append(record)
        offsets = self.offsets
        if type(offsets) is not list:  # after `pass_on`: lazy offsets become a list of its own
            offsets = self.offsets = list(offsets)
        offsets.append(offset)

    def pass_on(self, records: list[dict], offsets: Sequence[Any]) -> None:
        """`records` go out with `offsets` left as they are: most batches cross a run without
        anyone reading their offsets, which are often lazy (`item.py`)."""
        if self.records:  # new lists: those passed on before may be a batch's own
            self.records = [*self.records, *records]
            self.offsets = [*self.offsets, *offsets]
        else:
            self.records = list(records)  # a copy is cheap, and the batch's own list stays so
            self.offsets = offsets  # type: ignore[assignment]  # a list again at the next `emit`

    def emit_late(self, record: dict, offset: int | None) -> None:
        self.late.append(record)
        self.late_offsets.append(offset)

    def error(self, record: dict, offset: int | None, reason: str) -> None:
        self.errors.append((record, offset, reason))


class Operator(Protocol):
    tick_s: float | None
    """How often `on_tick` wants to be called (None: never)."""

    def process(self, batch: Batch, port: int, out: Output) -> None: ...

    def on_watermark(self, ts_ms: int, out: Output) -> None: ...

    def on_tick(self, now_ms: int, out: Output) -> None: ...

    def on_end(self, out: Output) -> None: ...

    def snapshot(self) -> Any: ...

    def restore(self, state: Any) -> None: ...


class StatelessOperator:
    """Defaults for an operator that keeps no state and ignores time."""

    tick_s: float | None = None

    def on_watermark(self, ts_ms: int, out: Output) -> None:
        pass

    def on_tick(self, now_ms: int, out: Output) -> None:
        pass

    def on_end(self, out: Output) -> None:
        pass

    def snapshot(self) -> Any:
        return None

    def restore(self, state: Any) -> None:
        pass
