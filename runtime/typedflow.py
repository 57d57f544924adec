"""Which nodes take typed records, Structs of their source's schema (`schema.py`), rather than
dicts: msgspec decodes a line into a Struct in about 60 % of the time it takes into a dict, and
a field is read from either as fast. A source with a schema hands them out when every reader of
it can take them, which a reader can when it reads fields only and never passes a record on:

- a stage of `where`s then a `select` reading no `this` (`stage.reads_fields_only`);
- an `event_time` whose every reader is an `aggregate` over a tumbling or sliding window on
  that event time, reading fields only (no `this` in its items) and without `late into` (a
  late record goes on whole, as it was read): the records stop there. `event_time` and the
  window read the time as an attribute; a bad record's `raw` is the Struct as a dict
  (`msgspec.to_builtins`), as for stages.

A source that adds fields of its own (`Spec.adds`) has no room for them in a Struct.
"""

from __future__ import annotations

from typing import Any

from .expr import ExprCompiler
from .plan import Aggregate, EventTime, Source, Window
from .plugin import Registry
from .schema import struct_attributes
from .stage import reads_fields_only


def typed_inputs(nodes: dict[int, Any], registry: Registry) -> dict[int, dict[str, str]]:
    """The nodes whose input records are typed, each with the attribute of every field; marks
    the sources that hand them out (`PhysicalNode.typed`)."""
    typed: dict[int, dict[str, str]] = {}
    for node in nodes.values():
        op = node.plan_nodes[0].op
        if not isinstance(op, Source) or op.schema is None or _adds_fields(op, registry):
            continue
        attrs = struct_attributes(op.schema)
        readers = _readers(node, nodes)
        takers = [_takers(r, nodes, attrs) for r in readers]
        if readers and all(t is not None for t in takers):
            node.typed = True
            typed.update((taker.id, attrs) for found in takers for taker in found or ())
    return typed


def _adds_fields(op: Source, registry: Registry) -> bool:
    specs = [(registry.get("source", p.connector), p.config) for p in op.parts]
    return any(spec is not None and spec.added_fields(config) for spec, config in specs)


def _readers(node: Any, nodes: dict[int, Any]) -> list[Any]:
    return [n for n in nodes.values() if node.id in n.inputs]


def _takers(reader: Any, nodes: dict[int, Any], attrs: dict[str, str]) -> list[Any] | None:
    """The nodes that would see a source's typed records if `reader` takes them; None if it
    cannot."""
    op = reader.plan_nodes[0].op
    if reader.kind == "stage":
        return [reader] if reads_fields_only([pn.op for pn in reader.plan_nodes]) else None
    if isinstance(op, EventTime) and op.field in attrs:
        windows = _readers(reader, nodes)
        if windows and all(_pane_window_on(w.plan_nodes[0].op, op.field) for w in windows):
            return [reader, *windows]
    return None


def _pane_window_on(op: Any, time_field: str) -> bool:
    """Whether `op` is an aggregate over a tumbling or sliding window on `time_field` that
    reads only fields of its records."""
    if not isinstance(op, Aggregate) or op.time_field != time_field or op.late_sink:
        return False  # late records go on as they were read
    if not isinstance(op.window, Window) or op.window.kind == "session":
        return False
    exprs = ExprCompiler({})
    return not any(exprs.reads_whole_record(a.expr) for a in op.fields)


__all__ = ["typed_inputs"]
