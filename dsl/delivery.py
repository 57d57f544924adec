"""The delivery guarantee of a path from a source to a sink, from what their connectors declare:
`explain` shows it for every path, and the linter compares it with `set delivery` (`W1005`).

A path is as strong as its weaker end. A source that can `seek` back to its checkpointed
position replays what a crash lost; one that cannot (stdin) loses it, so every path from it is
at-most-once. From a replaying source, the path has the guarantee its sink declares
(`Spec.delivery`, at-least-once when it says nothing).
"""

from __future__ import annotations

from collections.abc import Sequence

from rillet.runtime.capability import Seekable
from rillet.runtime.spec import Delivery, Spec

STRENGTH: tuple[Delivery, ...] = ("at-most-once", "at-least-once", "exactly-once")
"""The guarantees, weakest first."""


def replays(parts: Sequence[Spec | None]) -> bool:
    """Whether a crash's loss is read again: by every part of a source (one, but for a hybrid
    `A then B`)."""
    return all(
        spec is not None and isinstance(spec.obj, type) and issubclass(spec.obj, Seekable)
        for spec in parts
    )


def sink_delivery(sink: Spec | None) -> Delivery:
    return sink.delivery if sink is not None and sink.delivery else "at-least-once"


def path_delivery(parts: Sequence[Spec | None], sink: Spec | None) -> Delivery:
    return sink_delivery(sink) if replays(parts) else "at-most-once"


def weaker(guarantee: str, than: str) -> bool:
    return STRENGTH.index(guarantee) < STRENGTH.index(than)


__all__ = ["STRENGTH", "path_delivery", "replays", "sink_delivery", "weaker"]
