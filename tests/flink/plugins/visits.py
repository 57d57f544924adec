"""A plugin a conformance pipeline `use`s by path: its operators declare their records' fields
by their return annotations, so they run as Python table functions on Flink."""

from __future__ import annotations

from typing import TypedDict

import anyio.lowlevel
import msgspec

from rillet.runtime.plugin import Plugin

plugin = Plugin("visits")


class Visit(TypedDict):
    ts: int
    user: int
    page: str
    kind: str
    cost: float | None


class Segment(msgspec.Struct):
    ts: int
    user: int
    segment: str
    depth: int
    path: list[str]


@plugin.operator("visit")
def visit(record: dict, *, slow_ms: float = 200.0) -> Visit | list[Visit] | None:
    """No record for a failed request, two for a slow one (the visit and a `slow` copy), one
    otherwise."""
    if record["status"] >= 400:
        return None
    seen = Visit(ts=record["ts"], user=record["user"], page=record["page"], kind="ok", cost=None)
    if record["latency_ms"] <= slow_ms:
        return seen
    return [seen, {**seen, "kind": "slow", "cost": record["latency_ms"] - slow_ms}]


@plugin.operator("segments")
async def segments(record: dict, *, sep: str = "/") -> list[Segment]:
    """A record per segment of the page's path (none for the root), awaiting as an I/O call
    would."""
    await anyio.lowlevel.checkpoint()
    parts = [p for p in record["page"].split(sep) if p]
    return [Segment(record["ts"], record["user"], p, i, parts) for i, p in enumerate(parts)]


@plugin.operator("undeclared")
def undeclared(record: dict) -> dict:
    """Returns records whose fields nothing declares."""
    return record


@plugin.operator("in_batches", batch=True)
def in_batches(records: list) -> list[Visit]:
    """A function of a batch, declared or not."""
    return records


@plugin.operator("running")
class Running:
    """A stateful class."""

    def __init__(self) -> None:
        self.seen = 0

    def process(self, records: list) -> list:
        self.seen += len(records)
        return records


class Nested(TypedDict):
    ts: int
    extra: dict


@plugin.operator("nested")
def nested(record: dict) -> Nested:
    """Declares a field of a type Flink cannot hold here."""
    return Nested(ts=record["ts"], extra={})
