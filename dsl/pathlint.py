"""`W1005`: the ends of paths that give less than `set delivery` declares. Every path from a
source to a sink it feeds (through streams, joins, `late into` and the error sink) is as strong
as its weaker end (`delivery.py`); the warning stands at that end, where the fix belongs: a
source that cannot replay, or a sink that cannot take back what it wrote. Each such end is
reported once, with the first path it weakens."""

from __future__ import annotations

from . import ast
from .checked import Draft
from .delivery import path_delivery, replays, sink_delivery, weaker
from .diagnostic import Diagnostic, warning
from .silence import allow_hint
from .streamorder import flow_streams


def weak_paths(c: Draft) -> list[Diagnostic]:
    if c.delivery is None:
        return []
    declared_at = next(
        s.span.line
        for s in c.program.statements
        if isinstance(s, ast.SetDecl) and s.name.text == "delivery"
    )
    found: dict[str, Diagnostic] = {}
    for sink, sources in _feeds(c).items():
        decl, _ = c.sinks[sink]
        sink_spec = c.registry.get("sink", decl.call.name.text)
        for source in sources:
            source_decl, _ = c.sources[source]
            parts = [c.registry.get("source", part.name.text) for part in source_decl.parts]
            guarantee = path_delivery(parts, sink_spec)
            if not weaker(guarantee, c.delivery):
                continue
            path = f"the path `{source} → {sink}` is {guarantee}, weaker than "
            path += f'`set delivery = "{c.delivery}"` (line {declared_at})'
            if not replays(parts):
                label = f"`{source_decl.call.name.text}` cannot replay what a crash lost"
                at: ast.SourceDecl | ast.SinkDecl = source_decl
                hint = "read from a source that replays from its checkpointed position (`file`, "
                hint += "`kafka`, `redis_stream`, `nats`)"
            else:
                label = f"`{decl.call.name.text}` is {sink_delivery(sink_spec)}"
                at = decl
                hint = "write to a sink that commits with the checkpoints (`file`, `postgres`, "
                hint += "`sqlite`), or make rereading harmless downstream"
            found.setdefault(
                at.name.text,
                warning("W1005", path, at.call.span, label, hint, allow_hint("W1005")),
            )
    return list(found.values())


def _feeds(c: Draft) -> dict[str, dict[str, None]]:
    """Each sink with the sources whose records reach it (an ordered set), in file order."""
    sources_of: dict[str, dict[str, None]] = {name: {name: None} for name in c.sources}
    for name in c.stream_order:
        sources_of[name] = _behind(flow_streams(c.streams[name].flow), sources_of)
    feeds: dict[str, dict[str, None]] = {}
    for flow in [*(s.flow for s in c.streams.values()), *c.flows]:
        read = _behind(flow_streams(flow), sources_of)
        for op in flow.ops:
            if isinstance(op, ast.IntoOp | ast.LateOp) and op.sink.text in c.sinks:
                feeds.setdefault(op.sink.text, {}).update(read)
    if c.error_sink is not None:
        feeds.setdefault(c.error_sink, {}).update(dict.fromkeys(c.sources))
    return feeds


def _behind(names: list[str], sources_of: dict[str, dict[str, None]]) -> dict[str, None]:
    """The sources behind the streams and sources `names`."""
    found: dict[str, None] = {}
    for name in names:
        found.update(sources_of.get(name, {}))
    return found


__all__ = ["weak_paths"]
