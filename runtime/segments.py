"""Incremental checkpoints kept as chains of segments: a base holding every element of an
operator's lists, then one segment of changes per checkpoint (`incremental.py`).

A checkpoint's manifest names, for each incremental operator, the segments its state is made
of, oldest first; the segments are written before the manifest, so a manifest that can be read
names only segments that are there, and a crash in between leaves the previous checkpoint in
force with its own chain intact. When a chain's changes have grown as large as its base, the
saver thread folds them into a new base (compaction), so resuming reads at most about twice the
state, and writing stays proportional to what changed. Segments no kept manifest names any more
are deleted after each save.

`SegmentedStore` wraps a store that can keep segments (`SegmentKeeper`): it writes the chains
on `save` and, on reading, puts each operator's state back whole, so the rest of rillet (resume,
`rillet diff`, `rillet checkpoints`) sees the manifests it always saw.
"""

from __future__ import annotations

import hashlib
from collections import deque
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import msgspec

from .checkpoint import KEEP_CHECKPOINTS, CheckpointStore, Manifest, OperatorState
from .envelope import Corrupt, seal, unseal

MAX_CHAIN = 64
"""Segments in a chain before it is compacted whatever their size: resuming reads each."""


@runtime_checkable
class SegmentKeeper(Protocol):
    """A checkpoint store that can also keep segments: named blobs, each written whole."""

    def put_segment(self, checkpoint_id: int, name: str, data: bytes) -> None:
        """Raises `CheckpointNotSaved` when it cannot."""

    def get_segment(self, name: str) -> bytes: ...

    def segment_names(self) -> list[str]: ...

    def drop_segments(self, names: list[str]) -> None: ...


class _StoredList(msgspec.Struct, array_like=True):
    upserts: list[tuple[int, msgspec.Raw]]
    removed: list[int]


class _Stored(msgspec.Struct, array_like=True):
    """A segment as read back: `incremental.Changes` with its elements left encoded."""

    whole: bool
    header: dict[str, msgspec.Raw]
    lists: dict[str, _StoredList]


class _Whole(msgspec.Struct, array_like=True):
    """A segment's first field alone: the rest is skipped, not decoded."""

    whole: bool


class MissingSegment(Exception):
    """A segment a manifest names cannot be read: that checkpoint is unusable."""


def merged(segments: list[bytes]) -> tuple[dict[str, msgspec.Raw], dict[str, dict[int, Any]]]:
    """A chain's segments applied in order: the newest header, and each list by id."""
    header: dict[str, msgspec.Raw] = {}
    lists: dict[str, dict[int, Any]] = {}
    for data in segments:
        segment = msgspec.msgpack.decode(data, type=_Stored)
        if segment.whole:
            lists = {}
        header = segment.header
        for name, changes in segment.lists.items():
            elements = lists.setdefault(name, {})
            for removed in changes.removed:
                elements.pop(removed, None)
            elements.update(changes.upserts)
    return header, lists


def compacted(segments: list[bytes]) -> bytes:
    """One base segment holding what the chain holds."""
    header, lists = merged(segments)
    bases = {name: _StoredList(sorted(elements.items()), []) for name, elements in lists.items()}
    return msgspec.msgpack.encode(_Stored(True, header, bases))


def snapshot(segments: list[bytes]) -> bytes:
    """The operator's snapshot, encoded, as `restore` reads it: each list's elements in the
    order of their ids, beside the header's fields."""
    header, lists = merged(segments)
    whole: dict[str, Any] = dict(header)
    for name, elements in lists.items():
        whole[name] = [elements[i] for i in sorted(elements)]
    return msgspec.msgpack.encode(whole)


def is_delta(state: OperatorState) -> bool:
    """An operator's part of a checkpoint in flight that holds changes, not yet a segment."""
    return state.segments == []


@dataclass
class _Chain:
    names: list[str]
    base_bytes: int
    changes_bytes: int = 0


class SegmentedStore:
    """A store whose incremental operators' states are chains of segments (module doc)."""

    def __init__(self, store: Any, keep: int = KEEP_CHECKPOINTS) -> None:
        self.store: Any = store  # a CheckpointStore and a SegmentKeeper
        self.keep = keep
        self.chains: dict[str, _Chain] = {}
        self.named: deque[set[str]] = deque(maxlen=keep)
        """The segments named by each of the last manifests this run saved."""
        self.stored_bytes: dict[str, int] = {}
        """Each incremental operator: the bytes its chain takes in the store."""
        self.compacted_bytes = 0
        """Written by compactions, together."""

    def hold(self) -> AbstractContextManager[None]:
        return self.store.hold()

    def save(self, manifest: Manifest) -> None:
        """Write each operator's changes as a segment, compacting a chain grown as large as
        its base, then the manifest naming them, then drop what nothing names any more."""
        operators = {
            key: self._chained(manifest.checkpoint_id, key, state) if is_delta(state) else state
            for key, state in manifest.operators.items()
        }
        self.store.save(msgspec.structs.replace(manifest, operators=operators))
        self.named.append({n for state in operators.values() for n in state.segments or ()})
        self._drop_unnamed()

    def _chained(self, checkpoint_id: int, key: str, state: OperatorState) -> OperatorState:
        changes = state.state
        name = f"{_short(key)}-{checkpoint_id:09d}"
        self.store.put_segment(checkpoint_id, name, seal(changes))
        chain = self.chains.get(key)
        if msgspec.msgpack.decode(changes, type=_Whole).whole:
            chain = self.chains[key] = _Chain([name], len(changes))
        elif chain is None:
            raise ValueError(f"changes of {key} without a base to apply them to")
        else:
            chain.names.append(name)
            chain.changes_bytes += len(changes)
        if len(chain.names) > 1 and (
            chain.changes_bytes >= chain.base_bytes or len(chain.names) > MAX_CHAIN
        ):
            base = compacted([self._read(n) for n in chain.names])
            self.store.put_segment(checkpoint_id, name + "c", seal(base))
            chain = self.chains[key] = _Chain([name + "c"], len(base))
            self.compacted_bytes += len(base)
        self.stored_bytes[key] = chain.base_bytes + chain.changes_bytes
        return msgspec.structs.replace(state, state=b"", segments=list(chain.names))

    def _drop_unnamed(self) -> None:
        """Segments no manifest still kept names. Until this run has saved as many manifests as
        are kept, those of an earlier run may still be read, and are left alone."""
        if len(self.named) < self.keep:
            return
        named = set().union(*self.named)
        self.store.drop_segments([n for n in self.store.segment_names() if n not in named])

    def _read(self, name: str) -> bytes:
        try:
            return unseal(self.store.get_segment(name))
        except (KeyError, OSError, Corrupt) as e:
            raise MissingSegment(f"segment {name}: {e}") from e

    def _whole(self, manifest: Manifest | None) -> Manifest | None:
        """`manifest` with each operator's state put back whole; None when a segment it names
        is missing or damaged."""
        if manifest is None:
            return None
        operators = {}
        for key, state in manifest.operators.items():
            if state.segments:
                try:
                    whole = snapshot([self._read(n) for n in state.segments])
                except (MissingSegment, msgspec.DecodeError, msgspec.ValidationError):
                    return None
                state = msgspec.structs.replace(state, state=whole, segments=None)
            operators[key] = state
        return msgspec.structs.replace(manifest, operators=operators)

    def latest(self) -> Manifest | None:
        """The newest checkpoint whose manifest and segments can all be read."""
        whole = self._whole(self.store.latest())
        if whole is not None:
            return whole
        return next((w for w in map(self._whole, self.store.all()) if w is not None), None)

    def all(self) -> list[Manifest]:
        return [m for m in map(self._whole, self.store.all()) if m is not None]

    def history(self) -> list[Manifest]:
        return self.store.history()

    def clear(self) -> None:
        self.store.clear()
        self.store.drop_segments(self.store.segment_names())
        self.chains.clear()
        self.named.clear()


def _short(key: str) -> str:
    """An operator's state key as a segment's name may hold it."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def segmented(store: CheckpointStore) -> CheckpointStore:
    """`store` with incremental checkpoints, when it can keep segments."""
    return SegmentedStore(store) if isinstance(store, SegmentKeeper) else store


__all__ = ["SegmentKeeper", "SegmentedStore", "segmented"]
