"""The records a sink is written: checking the fields a sink names in its arguments
(`key="user"`, `key=["user", "window_start"]`, `partition_by=["dt"]`) against the records a
flow writes `into` it — a field the records cannot have is an error at the argument, with the
`into` that writes them named, since the sink would otherwise stop the run at its first record —
and the records' type the planner hands a sink that asks for it (`Spec.typed`)."""

from __future__ import annotations

from collections.abc import Iterator

from rillet.runtime.plan import FieldSpec, SchemaSpec

from . import ast
from .checked import Draft
from .connectorcheck import argument_node
from .diagnostic import Diagnostic, did_you_mean, error
from .types import RecordType

FIELD_ARGUMENTS = ("key", "partition_by")
"""A sink's arguments that name fields of its records, when its connector takes them."""
FIELD_ARGUMENT_SINKS = ("postgres", "sqlite", "delta", "parquet", "file")
"""The connectors whose `key` and `partition_by` name fields (a plugin's may mean otherwise)."""


def sink_field_problems(c: Draft, into: ast.Ident, record: RecordType) -> list[Diagnostic]:
    """An error for each field that sink `into`'s arguments name and `record` cannot have."""
    if record.fields is None or into.text not in c.sinks:
        return []
    decl, config = c.sinks[into.text]
    spec = c.registry.written("sink", decl.call.name.text)
    if spec is None or spec.name not in FIELD_ARGUMENT_SINKS or spec.plugin != "std":
        return []
    problems = []
    for argument in FIELD_ARGUMENTS:
        if config.get(argument) is None:
            continue
        node = argument_node(decl.call, spec, argument)
        for name, span in _named(config[argument], node):
            if name in record.fields:
                continue
            close = did_you_mean(name, record.fields)
            origin = f" ({record.origin})" if record.origin else ""
            problems.append(
                error(
                    "E0202",
                    f"`{argument}` of sink `{into.text}` names `{name}`, which is not a field of "
                    f"the records written into it on line {into.span.line}",
                    span,
                    f"did you mean `{close}`?" if close else "not a field of those records",
                    f"fields{origin}: {', '.join(record.fields) or 'none'}",
                )
            )
    return problems


def _named(value: object, node: ast.Node) -> Iterator[tuple[str, ast.Span]]:
    """Each field name of an argument with the span it was written at (the whole argument's
    when its items cannot be told apart: a param holding a list)."""
    names = [value] if isinstance(value, str) else list(value) if isinstance(value, list) else []
    items = node.items if isinstance(node, ast.ListExpr) else ()
    for i, name in enumerate(names):
        if isinstance(name, str):
            yield name, items[i].span if len(items) == len(names) else node.span


def records_schema(name: str, types: list[RecordType | None]) -> SchemaSpec | None:
    """The one type of every flow's records into a sink, as a schema named `name`; None when
    one of them is open or unknown, or two differ."""
    if not types or any(t is None or t.fields is None for t in types):
        return None
    first = types[0].fields  # type: ignore[union-attr]
    if any(t.fields != first for t in types[1:]):  # type: ignore[union-attr]
        return None
    assert first is not None
    return SchemaSpec(name, tuple(FieldSpec(field, spec) for field, spec in first.items()))
