"""`rillet explain`: the physical plan a run would execute, and what each path guarantees.

It compiles the plan exactly as `run` does (`rillet.runtime.compile.compile_plan`: stateless
chains fused into stages with generated Python) and describes the result: each physical node
in topological order, the plan operators it holds, the code of fused stages, the state of
stateful operators and its keys, channel bounds, and the delivery guarantee of every
source-to-sink path from what the connectors declare. It opens no connector and reads no data.
Values read through `env()` show as `env("NAME")`, in the code too (`Plan.secrets`).
Read `graph.py` for the logical dataflow, `render.py` for how operators are written back.
"""

from __future__ import annotations

import inspect
from textwrap import indent

from rillet.runtime import SystemClock
from rillet.runtime import plan as ir
from rillet.runtime.compile import PhysicalNode, PhysicalPlan, compile_plan
from rillet.runtime.plugin import Registry, Spec
from rillet.runtime.secret import Secrets

from . import render
from .delivery import path_delivery, replays

LEGEND = """\
delivery rule: a path is as strong as its weaker end. A source that can `seek` back to its
  checkpointed position replays what a crash lost; one that cannot (stdin) loses it, so every
  path from it is at-most-once. From a replaying source, the path has the guarantee its sink
  declares (`Spec.delivery`): exactly-once only when the sink commits with the checkpoint.
  Run as workers (`--workers`), a path may cross a shuffle to the worker that owns its key;
  shuffles are exactly-once, so each path keeps the guarantee shown (docs/scale-out.md).
"""


def explain(plan: ir.Plan, registry: Registry) -> str:
    physical = compile_plan(plan, registry, SystemClock())
    s = plan.settings
    lines = [
        f"physical plan: {len(physical.nodes)} nodes (from {len(plan.nodes)} plan nodes), "
        "in topological order",
        f"channels: each holds at most {s.channel_capacity} batches × {s.batch_size:,} records "
        f"({s.channel_capacity * s.batch_size:,} records); a batch closes after "
        f"{s.batch_size:,} records or {s.batch_timeout_ms} ms",
        f"checkpoints: every {render.duration(s.checkpoint_interval_ms)}",
        "",
    ]
    for node in physical.nodes.values():
        lines += _node(node, physical, registry)
        lines.append("")
    lines.append("delivery (source → sink):")
    lines += _delivery(physical, registry)
    lines += ["", LEGEND.rstrip("\n")]
    return Secrets(plan.secrets).mask("\n".join(lines) + "\n")


def _refs(ids: list[int], physical: PhysicalPlan) -> str:
    return ", ".join(f"#{i} {physical.nodes[i].name}" for i in ids)


def _node(node: PhysicalNode, physical: PhysicalPlan, registry: Registry) -> list[str]:
    op = node.plan_nodes[0].op
    head = f"#{node.id} {node.kind}" + (f" {node.name}" if node.name != node.kind else "")
    if isinstance(op, ir.Source):
        head += f" ({' then '.join(p.connector for p in op.parts)})"
    elif isinstance(op, ir.Sink):
        head += f" ({op.connector})"
    if isinstance(op, ir.Sink):
        spec = registry.get("sink", op.connector)
        head += f"  [{spec.delivery if spec and spec.delivery else 'at-least-once'}]"
    lines = [head]
    if node.inputs:
        ports = [f"#{i}" for i in node.inputs]
        if isinstance(op, ir.Join):
            ports = [f"{ports[0]} (left)", f"{ports[1]} (right, `{op.right}`)"]
        lines.append(f"    in:  {', '.join(ports)}")
    late_from = [n.id for n in physical.nodes.values() if n.late_sink == node.id]
    if late_from:
        lines.append(f"    late from: {', '.join(f'#{i}' for i in late_from)}")
    if node.id == physical.error_sink:
        lines.append("    errors from: every source, stage and operator")
    outs = [f"#{i}" for i in node.outputs]
    if node.late_sink is not None:
        outs.append(f"late → #{node.late_sink}")
    if physical.error_sink is not None and node.kind in ("source", "stage", "operator"):
        outs.append(f"errors → #{physical.error_sink}")
    if outs:
        lines.append(f"    out: {', '.join(outs)}")
    if isinstance(op, ir.Source):
        replay = "yes (seek)" if replays(_part_specs(op, registry)) else "no"
        lines.append(f"    replay: {replay}")
    if node.kind in ("stage", "operator"):
        fused = "fuses" if node.kind == "stage" else "plan"
        lines += [
            f"    {fused}: #{n.id} {render.node(n)}"
            if k == 0
            else f"           #{n.id} {render.node(n)}"
            for k, n in enumerate(node.plan_nodes)
        ]
    lines += [f"    {line}" for line in _state(op, registry)]
    if node.stage is not None:
        lines.append("    code:")
        lines.append(indent(node.stage.source.rstrip("\n"), "      │ "))
    return lines


def _time(field: str | None, lateness_ms: int | None = None) -> str:
    if field is None:
        return "processing time"
    late = f", lateness {render.duration(lateness_ms)}" if lateness_ms else ""
    return f"event time `{field}`{late}"


def _keys(keys: tuple[str, ...]) -> str:
    return ", ".join(f"`{k}`" for k in keys)


def _windowed(
    kept: str, keys: tuple[str, ...], window: ir.Window | None, field: str | None, lateness: int
) -> str:
    """The state of an `aggregate` or a `top`: its groups, and when they come out."""
    by = f"keyed by {_keys(keys)}" if keys else "one group (no keys)"
    if window is None:
        return f"state: {kept}{by}; results at end of input"
    unit = "session" if window.kind == "session" else "window"
    shape, _, every = render.window(window).removeprefix("window ").partition(" emit every ")
    early = f"; early rows every {every} of processing time" if every else ""
    return f"state: {kept}{by} and {unit} ({shape}); {_time(field, lateness)}{early}"


def _join_state(op: ir.Join) -> list[str]:
    if op.left_keys == op.right_keys:
        by = f"both sides keyed by {_keys(op.left_keys)}"
    else:
        by = f"left keyed by {_keys(op.left_keys)}, right by {_keys(op.right_keys)}"
    within = op.within_ms
    if within is None:
        lines = [f"state: {by}, every record kept to the end of input (no `within`)"]
    else:
        lines = [
            f"state: {by}, records kept {render.duration(within)}"
            f"; left {_time(op.left_time)}, right {_time(op.right_time)}"
        ]
    if op.kind == "left":
        when = "at the end of input"
        if within is not None:
            when = f"once the watermark is {render.duration(within)} past them, or {when}"
        fields = "the right's fields null" if op.right_fields else "as they are"
        lines.append(f"left records without a partner: written {when}, {fields}")
    return lines


def _state(op: ir.Op, registry: Registry) -> list[str]:
    """What a stateful operator keeps in checkpoints, and what it is keyed by."""
    match op:
        case ir.EventTime(field=name, lateness_ms=lateness, idle_ms=idle):
            idle_text = f"; idle after {render.duration(idle)}" if idle is not None else ""
            return [f"state: the watermark of {_time(name, lateness)}{idle_text}"]
        case ir.Aggregate(keys=keys, window=window, time_field=field, lateness_ms=lateness):
            return [_windowed("", keys, window, field, lateness)]
        case ir.Top(keys=keys, window=window, time_field=field, lateness_ms=lateness):
            kept = f"each group's first {op.count} record{'' if op.count == 1 else 's'}, "
            return [_windowed(kept, keys, window, field, lateness)]
        case ir.Rolling(keys=keys, within_ms=within, last=last, time_field=field):
            by = f"keyed by {_keys(keys)}, each key's" if keys else "one group (no keys), its"
            kept = f"last {last} records" if last is not None else "records of the last "
            kept += render.duration(within) if within is not None else ""
            return [
                f"state: {by} {kept}; {_time(field, op.lateness_ms)}; "
                "each record waits for the watermark to pass its time"
            ]
        case ir.Dedupe(keys=keys, within_ms=within, time_field=field):
            return [
                f"state: keyed by {_keys(keys)}, each seen key kept "
                f"{render.duration(within)}; {_time(field)}"
            ]
        case ir.Join():
            return _join_state(op)
        case ir.Lookup(table=table, on=on):
            key = table.config.get("key", on)
            return [
                f"state: none; table `{table.name}` ({table.connector}) loaded at open, "
                f"keyed by `{key}`, read by `{on}`"
            ]
        case ir.PluginOperator(name=name, concurrency=concurrency):
            spec = registry.get("operator", name)
            if spec is None:
                return []
            if isinstance(spec.obj, type):
                return [f"state: plugin `{spec.plugin}`'s own (a stateful class)"]
            if inspect.iscoroutinefunction(spec.obj):
                at_once = concurrency or spec.concurrency or 16
                return [f"state: none; async, up to {at_once} records at once"]
            return ["state: none (a function of each " + ("batch)" if spec.batch else "record)")]
    return []


def _part_specs(op: ir.Source, registry: Registry) -> list[Spec | None]:
    return [registry.get("source", part.connector) for part in op.parts]


def _delivery(physical: PhysicalPlan, registry: Registry) -> list[str]:
    rows = []
    for node in physical.nodes.values():
        op = node.plan_nodes[0].op
        if not isinstance(op, ir.Source):
            continue
        reached: dict[int, str] = {}
        todo = [node.id]
        while todo:
            current = physical.nodes[todo.pop()]
            if current.kind == "sink":
                reached.setdefault(current.id, "")
            todo += current.outputs
            if current.late_sink is not None:
                reached.setdefault(current.late_sink, " (late)")
        if physical.error_sink is not None:
            reached.setdefault(physical.error_sink, " (errors)")
        for sink_id in sorted(reached):
            sink = physical.nodes[sink_id].plan_nodes[0].op
            assert isinstance(sink, ir.Sink)
            guarantee = path_delivery(
                _part_specs(op, registry), registry.get("sink", sink.connector)
            )
            rows.append((f"{op.name} → {sink.name}{reached[sink_id]}", guarantee))
    width = max((len(path) for path, _ in rows), default=0)
    return [f"  {path:<{width}}  {guarantee}" for path, guarantee in rows]


__all__ = ["LEGEND", "explain"]
