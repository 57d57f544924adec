"""Who decides that a checkpoint is complete: the `Coordinator` collects each node's part of
checkpoint `n` and hands the manifest over, to be saved, once all are in (`checkpoint.py` says
what a manifest holds, `checkpointer.py` runs the cycle)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from msgspec import field

from .checkpoint import MANIFEST_VERSION, Manifest, OperatorState, PipelineIdentity, Shape
from .lineage import Origins


class _Parts(msgspec.Struct):
    sources: dict[str, Any] = field(default_factory=dict)
    operators: dict[str, OperatorState] = field(default_factory=dict)
    sinks: dict[str, Any] = field(default_factory=dict)
    acked: set[int] = field(default_factory=set)

    def put(self, node: int, kind: str, key: str | None, value: Any) -> None:
        if kind == "source":
            self.sources[key] = value  # type: ignore[index]
        elif kind == "operator":
            self.operators[key] = value  # type: ignore[index]
        elif kind == "sink":
            self.sinks[key] = value  # type: ignore[index]
        self.acked.add(node)


class Coordinator:
    """Collects each node's part of checkpoint `n`; hands over the manifest, to be saved, when
    all are in.

    A node that has finished (all its inputs ended) is retired with its final part, which then
    stands for it in every later checkpoint.
    """

    def __init__(
        self,
        nodes: int,
        time_ms: Callable[[], int],
        on_complete: Callable[[Manifest], None],
        first_id: int = 1,
        pipeline: PipelineIdentity | None = None,
        shape: Shape | None = None,
        origins: Origins | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.shape = shape
        self.origins = origins if origins is not None else Origins({}, {}, [], None)
        self.nodes = nodes
        self.time_ms = time_ms
        self.next_id = first_id
        self.pending: dict[int, _Parts] = {}
        self.retired: dict[int, tuple[str, str | None, Any]] = {}
        self.on_complete = on_complete

    def current(self) -> int:
        """The checkpoint that what a node takes in now is part of: the oldest begun and not
        yet complete, or the next to begin."""
        return min(self.pending, default=self.next_id)

    def begin(self) -> int:
        checkpoint_id = self.next_id
        self.next_id += 1
        parts = self.pending[checkpoint_id] = _Parts()
        for node, (kind, key, value) in self.retired.items():
            parts.put(node, kind, key, value)
        self._check(checkpoint_id)
        return checkpoint_id

    def contribute(
        self, checkpoint_id: int, node: int, kind: str, key: str | None = None, value: Any = None
    ) -> None:
        """`node`'s part of `checkpoint_id`: kind is source, operator, sink, or pass (nothing
        to save)."""
        parts = self.pending.get(checkpoint_id)
        if parts is None:
            return
        parts.put(node, kind, key, value)
        self._check(checkpoint_id)

    def retire(self, node: int, kind: str, key: str | None = None, value: Any = None) -> None:
        self.retired[node] = (kind, key, value)
        for checkpoint_id in list(self.pending):
            if node not in self.pending[checkpoint_id].acked:
                self.contribute(checkpoint_id, node, kind, key, value)

    def _check(self, checkpoint_id: int) -> None:
        parts = self.pending[checkpoint_id]
        if len(parts.acked) >= self.nodes:
            self._complete(checkpoint_id, parts, finished=False)

    def _complete(
        self, checkpoint_id: int, parts: _Parts, finished: bool, drained: int | None = None
    ) -> None:
        self.pending.pop(checkpoint_id, None)
        operators, origins = self.origins.complete(checkpoint_id, parts.operators)
        manifest = Manifest(
            MANIFEST_VERSION,
            checkpoint_id,
            self.time_ms(),
            finished,
            parts.sources,
            operators,
            parts.sinks,
            drained,
            self.pipeline,
            shape=self.shape,
            origins=origins,
        )
        self.on_complete(manifest)

    def finish(self, drained: int | None = None) -> None:
        """Every node has retired: record the run as finished; `drained` names the checkpoint
        taken at the end of input, before it fired anything."""
        parts = _Parts()
        for node, (kind, key, value) in self.retired.items():
            parts.put(node, kind, key, value)
        checkpoint_id = self.next_id
        self.next_id += 1
        self._complete(checkpoint_id, parts, finished=True, drained=drained)
