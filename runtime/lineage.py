"""Lineage: which checkpoints' input the output of each checkpoint came from.

Aligned barriers make a stateless path's lineage exact: what a sink wrote in checkpoint `n`
came from what the sources read in checkpoint `n`. State stretches that back. At each barrier
every stateful operator says the oldest checkpoint whose input its state still holds
(`HoldsInput`; an operator that cannot say, and keeps state, is taken to hold everything since
the start), and `Origins` follows that along the plan: what an operator emits in `n` came from
what reached it in `n` and in the checkpoints its state was built in, and each of those came
from the operators upstream in turn. Each manifest records, per sink, the first checkpoint whose
input reached what the sink wrote in it; the store keeps every manifest, less the operators'
state, in a history that is never pruned (manifests are), so `rillet lineage` can answer for
any output of the run."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import msgspec

from .checkpoint import Manifest, OperatorState

FIRST = 1
"""The first checkpoint of a run started afresh: the conservative answer."""


@runtime_checkable
class HoldsInput(Protocol):
    """An operator that can say how far back the input its state holds reaches."""

    def held_since(self, checkpoint_id: int) -> int | None:
        """At checkpoint `checkpoint_id`'s barrier: the oldest checkpoint whose input the
        state holds (state built since the last barrier was built in `checkpoint_id`), or
        None when it holds none."""

    def resume_held(self, checkpoint_id: int | None) -> None:
        """After `restore`: the restored state holds input since `checkpoint_id`."""


class Origins:
    """Where each checkpoint's input came from, operator by operator and for each sink.

    For an operator, `reached[key][n]` is the origin of what reached it in checkpoint `n`: the
    least origin of what its nearest operators upstream emitted then (`n` itself when only
    sources feed it). What it emits in `n` comes from that and from its state carried into
    `n`, built from checkpoint `held` on: the least of `reached` over those checkpoints."""

    def __init__(
        self,
        upstream: dict[str, list[str]],
        sinks: dict[str, list[str]],
        history: list[Manifest],
        resumed: Manifest | None,
    ) -> None:
        self.upstream = upstream
        """Each operator's key: the keys of its nearest operators upstream (the stages and
        unions between them keep no state)."""
        self.sinks = sinks
        """Each sink's name: the keys of its nearest operators upstream."""
        self.reached: dict[str, dict[int, int]] = {}
        self.held: dict[str, int | None] = {}  # each operator's, after the last checkpoint
        for manifest in [*history, *([resumed] if resumed else [])]:
            for key, saved in manifest.operators.items():
                known = saved.origin is not None  # else taken before rillet kept lineage
                self.reached.setdefault(key, {})[manifest.checkpoint_id] = saved.origin or FIRST
                self.held[key] = saved.held if known else FIRST

    def complete(
        self, checkpoint_id: int, operators: dict[str, OperatorState]
    ) -> tuple[dict[str, OperatorState], dict[str, int]]:
        """Checkpoint `checkpoint_id` is complete: its operators' parts with what reached them,
        and the origin of what each sink wrote in it."""
        emitted: dict[str, int] = {}

        def emitted_by(key: str) -> int:
            if key not in emitted:
                reached = min(map(emitted_by, self.upstream.get(key, ())), default=checkpoint_id)
                seen = self.reached.setdefault(key, {})
                seen[checkpoint_id] = reached
                held = self.held.get(key)
                carried = range(held, checkpoint_id) if held is not None else ()
                emitted[key] = min([reached, *(seen.get(k, FIRST) for k in carried)])
            return emitted[key]

        sinks = {
            name: min(map(emitted_by, keys), default=checkpoint_id)
            for name, keys in self.sinks.items()
        }
        for key in operators:
            emitted_by(key)
        parts = {
            key: msgspec.structs.replace(saved, origin=self.reached[key][checkpoint_id])
            for key, saved in operators.items()
        }
        self.held.update((key, saved.held) for key, saved in operators.items())
        return parts, sinks
