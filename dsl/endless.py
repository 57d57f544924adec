"""Which inputs may never end: a source by what its connector declares (`Spec.ends`: a `file`
without `follow`, a broker read with `until_empty`, `generate` with a `count` end), a stream by
the sources it reads. A `top` without a window refuses such an input (`E0510`); a `join`
without `within` warns of one (`W0901`)."""

from __future__ import annotations

from collections.abc import Iterable

from .checked import Draft
from .hybridcheck import parts_of
from .streamorder import flow_streams


def endless_inputs(c: Draft, undeclared: bool) -> dict[str, str]:
    """Each source and stream that may never end, with a source that makes it so. A source
    whose connector does not say (`stdin`, which ends with its pipe) counts when `undeclared`:
    a join warns of it, a `top` is let be."""
    endless: dict[str, str] = {}
    for name in c.sources:
        call, config = parts_of(c, name)[-1]  # a hybrid source ends with its last part
        spec = c.registry.get("source", call.name.text)
        if spec is None:
            continue
        if spec.bounded(config) is False or (undeclared and spec.ends is None):
            endless[name] = name
    for name in c.stream_order:  # each after the streams it reads
        culprit = first_endless(flow_streams(c.streams[name].flow), endless)
        if culprit is not None:
            endless[name] = culprit
    return endless


def first_endless(names: Iterable[str], endless: dict[str, str]) -> str | None:
    """A source that may never end among those `names` read, if any."""
    return next((endless[n] for n in names if n in endless), None)


__all__ = ["endless_inputs", "first_endless"]
