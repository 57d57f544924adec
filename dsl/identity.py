"""A pipeline's identity for its checkpoints: hashes of the file's text and of each `-p` value,
and what changed between the run that took a checkpoint and the run resuming from it."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from rillet.runtime.checkpoint import Manifest, PipelineIdentity


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def identity(text: str, params: Mapping[str, str]) -> PipelineIdentity:
    return PipelineIdentity(_digest(text), {name: _digest(v) for name, v in params.items()})


def changed_since(saved: Manifest, now: PipelineIdentity) -> str | None:
    """A warning when `now` is not what `saved` was taken with (None when it is, or when the
    checkpoint predates identities)."""
    then = saved.pipeline
    if then is None or then == now:
        return None
    what = ["the pipeline file"] if then.file != now.file else []
    params = sorted(
        n for n in {*then.params, *now.params} if then.params.get(n) != now.params.get(n)
    )
    if params:
        what.append("-p " + ", ".join(params))
    return (
        f"{' and '.join(what)} changed since checkpoint {saved.checkpoint_id}: the run "
        "goes on from it with the state that still fits; --fresh starts over"
    )
