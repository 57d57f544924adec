"""Building a run's connectors: the one place a source, a sink or a lookup table is given its
context, so a run on one machine and a worker of a scale-out run (`workers.py` in the front end)
hand connectors the same settings. Each connector is checked against the capabilities it
declares as soon as it is built (`capability.py`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from msgspec.structs import replace

from .capability import check
from .clock import Clock
from .compile import PhysicalPlan
from .connector import SinkContext, SourceContext
from .hybrid import hybrid_source
from .keyed import LookupOperator
from .plan import Lookup, Plan, Sink, Source, SourcePart
from .plugin import Registry
from .schema import Schema
from .sinkguard import GuardedSink
from .spec import Spec


def source_context(
    plan: Plan, name: str, schema: Schema | None, clock: Clock, worker: tuple[int, int] = (0, 1)
) -> SourceContext:
    settings = plan.settings
    return SourceContext(
        name=name,
        schema=schema,
        clock=clock,
        base_dir=Path(plan.base_dir),
        batch_size=settings.batch_size,
        batch_timeout_s=settings.batch_timeout_ms / 1000,
        worker=worker[0],
        workers=worker[1],
    )


def sink_context(
    plan: Plan, name: str, clock: Clock, worker: tuple[int, int] = (0, 1)
) -> SinkContext:
    return SinkContext(
        name=name,
        base_dir=Path(plan.base_dir),
        worker=worker[0],
        workers=worker[1],
        pipeline=Path(plan.file).stem,
        clock=clock,
    )


def build_connectors(
    physical: PhysicalPlan,
    registry: Registry,
    clock: Clock,
    worker: tuple[int, int],
    sources: dict[str, Any],
    sinks: dict[str, Any],
) -> None:
    """Build every source and sink of `physical` that `sources` and `sinks` do not already
    hold (a test's, the shuffle between workers), and check them all."""
    plan = physical.plan
    for node in physical.nodes.values():
        op = node.plan_nodes[0].op
        if isinstance(op, Source) and op.name not in sources:
            schema = Schema(op.schema, node.typed) if op.schema else None
            context = source_context(plan, op.name, schema, clock, worker)
            sources[op.name] = build_source(op, registry, context)
        elif isinstance(op, Sink) and op.name not in sinks:
            spec = registry.get("sink", op.connector)
            assert spec is not None and spec.config is not None
            config = msgspec.convert(op.config, spec.config)
            made = sink_context(plan, op.name, clock, worker)
            if op.schema is not msgspec.UNSET:
                made = replace(made, schema=op.schema)
            sinks[op.name] = spec.obj(config, made)
    for name, connector in (*sources.items(), *sinks.items()):
        if not isinstance(connector, GuardedSink):  # checked when it was built
            check(connector, name)


def build_source(op: Source, registry: Registry, context: SourceContext) -> Any:
    """Source `op`'s connector: a hybrid of its parts when it has a `then` (`hybrid.py`)."""

    def build(index: int) -> Any:
        part = op.parts[index]
        spec = registry.get("source", part.connector)
        assert spec is not None and spec.config is not None
        return spec.obj(msgspec.convert(part.config, spec.config), context)

    if not op.then:
        return build(0)
    specs = [registry.get("source", part.connector) for part in op.parts]
    labels = [_label(part, spec) for part, spec in zip(op.parts, specs, strict=True)]
    classes = [spec.obj for spec in specs if spec is not None]
    return hybrid_source(op.name, labels, classes, build, op.after or None)


def _label(part: SourcePart, spec: Spec | None) -> str:
    """A part as the log and the live view name it: `file("history/*.jsonl")`, `kafka(...)`
    (only a file's path is shown: other arguments may hold a secret)."""
    path = part.config.get(spec.reads) if spec is not None and spec.reads else None
    return f"{part.connector}({msgspec.json.encode(path).decode() if path else '...'})"


async def load_lookup(op: Lookup, plan: Plan, registry: Registry, clock: Clock) -> LookupOperator:
    """The operator of a `lookup`: its table read whole, keyed as the table says."""
    table = op.table
    spec = registry.get("table", table.connector)
    assert spec is not None and spec.config is not None
    schema = Schema(table.schema) if table.schema else None
    context = source_context(plan, table.name, schema, clock)
    connector = spec.obj(msgspec.convert(table.config, spec.config), context)
    rows = await connector.load()
    key = getattr(connector.config, "key", None)
    if table.schema is not None:
        fields = [f.name for f in table.schema.fields]
    else:
        fields = list(dict.fromkeys(name for row in rows.values() for name in row))
    fields = [f for f in fields if f != key]
    keys_as_text = table.schema is None and all(isinstance(k, str) for k in rows)
    return LookupOperator(op.on, rows, fields, keys_as_text)
