"""Checkpoints: what a complete one holds, where it is kept, and who decides it is complete.

A checkpoint `n` is complete when every source recorded its offset at `Barrier(n)`, every
operator snapshotted the state it had when `Barrier(n)` arrived on all of its inputs, and every
sink flushed and pre-committed what it wrote before it. Only then is the manifest written,
atomically; a crash before that leaves the previous checkpoint in force. Restoring one puts
sources back at their offsets, operators at their state and sinks at their committed length,
so a resumed run writes exactly what an uninterrupted run would have (docs/architecture.md,
"Checkpoints").
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import msgspec

from . import statefolder
from .envelope import Corrupt, seal, unseal
from .failure import CheckpointNotSaved

log = logging.getLogger(__name__)

MANIFEST_VERSION = 1
KEEP_CHECKPOINTS = 3


class OperatorState(msgspec.Struct, frozen=True):
    fingerprint: str
    """Of the operator as planned; state taken under another plan does not fit."""
    state: bytes  # msgpack of the operator's snapshot()


class PipelineIdentity(msgspec.Struct, frozen=True):
    """What a checkpoint was taken with: hashes of the pipeline file's text and of each `-p`
    value (hashes, so that no value, a password say, is kept in the checkpoint)."""

    file: str
    params: dict[str, str]


class Manifest(msgspec.Struct, frozen=True):
    version: int
    checkpoint_id: int
    time_ms: int
    finished: bool
    """Every source was exhausted: the run completed."""
    sources: dict[str, Any]
    operators: dict[str, OperatorState]
    sinks: dict[str, Any]
    drained: int | None = None
    """On a finished run's manifest: the checkpoint taken when every input had reached its end,
    before the end of input fired what it fires (windows, a global aggregate). A rerun over
    input that grew since resumes from there, so new records are on time (`resume.py`)."""
    pipeline: PipelineIdentity | None = None
    """What the checkpoint was taken with, so a run can say the pipeline changed since."""


def not_saved(
    checkpoint_id: int, where: str, reason: str, kept: Manifest | None
) -> CheckpointNotSaved:
    """The failure of saving a checkpoint, saying what a rerun goes on from."""
    then = (
        f"checkpoint {kept.checkpoint_id} is kept and a rerun resumes from it"
        if kept is not None
        else "no checkpoint is kept, so a rerun starts from the beginning"
    )
    return CheckpointNotSaved(
        f"cannot save checkpoint {checkpoint_id} to {where}: {reason}; {then}"
    )


def fingerprint(op: Any) -> str:
    """A short hash of a plan operator: changes when the operator's meaning does."""
    return hashlib.sha256(msgspec.json.encode(op)).hexdigest()[:16]


class CheckpointStore(Protocol):
    def save(self, manifest: Manifest) -> None:
        """Write atomically: afterwards `latest()` returns it, even after a crash."""

    def latest(self) -> Manifest | None:
        """The newest complete, readable checkpoint."""

    def all(self) -> list[Manifest]: ...

    def clear(self) -> None: ...

    def hold(self) -> AbstractContextManager[None]:
        """Keep other runs out of this store while a run uses it."""


class FileCheckpointStore:
    """Checkpoints as files `checkpoint-<id>.msgpack` in a folder, the last few kept.

    Written to a temporary file, fsynced, then renamed over: a reader sees a whole manifest or
    none. Each is sealed with a checksum (`envelope.py`); a file that fails it or does not
    decode (truncated, corrupted) is skipped with a warning and the one before it is used.
    """

    def __init__(self, folder: Path, keep: int = KEEP_CHECKPOINTS) -> None:
        self.folder = folder
        self.keep = keep

    def hold(self) -> AbstractContextManager[None]:
        return statefolder.hold(self.folder)

    def _paths(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob("checkpoint-*.msgpack"), reverse=True)

    def save(self, manifest: Manifest) -> None:
        path = self.folder / f"checkpoint-{manifest.checkpoint_id:09d}.msgpack"
        temporary = path.with_suffix(".tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(temporary, "wb") as f:
                f.write(seal(msgspec.msgpack.encode(manifest)))
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, path)
            directory = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as e:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            raise not_saved(
                manifest.checkpoint_id, statefolder.shown(path), e.strerror or str(e), self.latest()
            ) from e
        for old in self._paths()[self.keep :]:
            with contextlib.suppress(OSError):  # the next checkpoint tries again
                old.unlink(missing_ok=True)

    def _read(self, path: Path) -> Manifest | None:
        try:
            return msgspec.msgpack.decode(unseal(path.read_bytes()), type=Manifest)
        except (OSError, Corrupt, msgspec.DecodeError, msgspec.ValidationError) as e:
            log.warning("skipping unreadable checkpoint %s: %s", path.name, e)
            return None

    def latest(self) -> Manifest | None:
        for path in self._paths():
            manifest = self._read(path)
            if manifest is not None:
                return manifest
        return None

    def all(self) -> list[Manifest]:
        return [m for m in map(self._read, self._paths()) if m is not None]

    def clear(self) -> None:
        for path in self._paths():
            path.unlink()


@dataclass
class _Parts:
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
    ) -> None:
        self.pipeline = pipeline
        self.nodes = nodes
        self.time_ms = time_ms
        self.next_id = first_id
        self.pending: dict[int, _Parts] = {}
        self.retired: dict[int, tuple[str, str | None, Any]] = {}
        self.on_complete = on_complete

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
        manifest = Manifest(
            MANIFEST_VERSION,
            checkpoint_id,
            self.time_ms(),
            finished,
            parts.sources,
            parts.operators,
            parts.sinks,
            drained,
            self.pipeline,
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
