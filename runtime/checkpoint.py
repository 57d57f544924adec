"""Checkpoints: what a complete one holds, and where it is kept (`coordinator.py` decides when
one is complete).

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
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

import msgspec

from . import statefolder
from .envelope import Corrupt, seal, unseal
from .failure import CheckpointNotSaved

log = logging.getLogger(__name__)

MANIFEST_VERSION = 1
KEEP_CHECKPOINTS = 3
SEGMENTS = "segments"
"""The folder of incremental operators' state segments, in the checkpoints' (`segments.py`)."""
HISTORY = "history.jsonl"
"""Every checkpoint saved, less the operators' state, one JSON line each: never pruned."""


class OperatorState(msgspec.Struct, frozen=True):
    fingerprint: str
    """Of the operator as planned; state taken under another plan does not fit."""
    state: bytes  # msgpack of the operator's snapshot()
    held: int | None = None
    """The oldest checkpoint whose input the state holds, None when it holds none
    (`lineage.py`)."""
    origin: int | None = None
    """What reached the operator in this checkpoint came from input read from checkpoint
    `origin` on (None: taken before rillet kept lineage)."""
    segments: list[str] | None = None
    """An incremental operator's state (`segments.py`): the segments it is made of, oldest
    first, `state` being empty; while its checkpoint is in flight, an empty list, `state`
    holding the changes. None: `state` is the whole snapshot."""


class PipelineIdentity(msgspec.Struct, frozen=True):
    """What a checkpoint was taken with: hashes of the pipeline file's text and of each `-p`
    value (hashes, so that no value, a password say, is kept in the checkpoint), and the
    plugins' versions."""

    file: str
    params: dict[str, str]
    plugins: dict[str, str] = {}
    """Each plugin the pipeline `use`s, and rillet itself: a hash of its file, or its
    installed version."""


class Shaped(msgspec.Struct, frozen=True):
    """An operator as a checkpoint saw it."""

    fingerprint: str
    shown: str
    """As `rillet diff` names it: the step's name, or its kind and line (`aggregate@12`)."""
    name: str | None = None
    """The name the step was given with `as`: its state follows it."""


class Shape(msgspec.Struct, frozen=True):
    """What of a plan its checkpoints keep, to compare a changed pipeline with."""

    operators: dict[str, Shaped]
    """Each stateful operator's identity."""
    sinks: dict[str, str]
    """Each sink: a hash of every step and source upstream of it."""


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
    shape: Shape | None = None
    """The plan's operators and sinks as this checkpoint saw them (`stateid.py`); with it,
    `operators` is keyed by the operators' identities, without it by their plan node ids."""
    origins: dict[str, int] = {}
    """Each sink: what it wrote in this checkpoint came from input read from checkpoint
    `origins[sink]` on (`lineage.py`; empty before rillet kept lineage)."""


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

    def history(self) -> list[Manifest]:
        """Every checkpoint saved since the store was last cleared, oldest first, without the
        operators' state: what `rillet lineage` reads."""

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

    @property
    def _segments(self) -> Path:
        return self.folder / SEGMENTS

    def put_segment(self, checkpoint_id: int, name: str, data: bytes) -> None:
        """Written like a manifest (`save`): whole under its name, or not at all."""
        path = self._segments / name
        try:
            self._segments.mkdir(parents=True, exist_ok=True)
            _write_durably(path, data)
        except OSError as e:
            reason = e.strerror or str(e)
            raise not_saved(checkpoint_id, statefolder.shown(path), reason, self.latest()) from e

    def get_segment(self, name: str) -> bytes:
        return (self._segments / name).read_bytes()

    def segment_names(self) -> list[str]:
        if not self._segments.is_dir():
            return []
        return [p.name for p in self._segments.iterdir() if not p.name.endswith(".tmp")]

    def drop_segments(self, names: list[str]) -> None:
        for name in names:
            with contextlib.suppress(OSError):  # the next checkpoint tries again
                (self._segments / name).unlink(missing_ok=True)

    def _paths(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob("checkpoint-*.msgpack"), reverse=True)

    def save(self, manifest: Manifest) -> None:
        path = self.folder / f"checkpoint-{manifest.checkpoint_id:09d}.msgpack"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            _write_durably(path, seal(msgspec.msgpack.encode(manifest)))
        except OSError as e:
            raise not_saved(
                manifest.checkpoint_id, statefolder.shown(path), e.strerror or str(e), self.latest()
            ) from e
        for old in self._paths()[self.keep :]:
            with contextlib.suppress(OSError):  # the next checkpoint tries again
                old.unlink(missing_ok=True)
        self._append_history(manifest)

    def _append_history(self, manifest: Manifest) -> None:
        """One JSON line per checkpoint, after its manifest: a crash in between leaves a gap,
        which lineage bridges by reading the range from the checkpoint before."""
        line = msgspec.json.encode(without_state(manifest)) + b"\n"
        path = self.folder / HISTORY
        try:
            with open(path, "ab") as f:
                if f.tell() and not _ends_with_newline(path):  # a line a crash cut short
                    f.write(b"\n")
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:  # the checkpoint itself is saved: lineage loses one entry
            log.warning("cannot add checkpoint %d to %s: %s", manifest.checkpoint_id, path, e)

    def history(self) -> list[Manifest]:
        path = self.folder / HISTORY
        try:
            lines = path.read_bytes().splitlines()
        except FileNotFoundError:
            return []
        return [m for m in map(_history_entry, lines) if m is not None]

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
        (self.folder / HISTORY).unlink(missing_ok=True)
        self.drop_segments(self.segment_names())


def _write_durably(path: Path, data: bytes) -> None:
    """Written to a temporary file, fsynced, then renamed over `path`, the folder fsynced: a
    reader sees all of `data` under `path` or nothing, even after a crash."""
    temporary = path.with_suffix(".tmp")
    try:
        with open(temporary, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def without_state(manifest: Manifest) -> Manifest:
    """A manifest as the history keeps it: the operators' fingerprints and what they hold,
    not their state."""
    operators = {
        k: OperatorState(s.fingerprint, b"", s.held) for k, s in manifest.operators.items()
    }
    return msgspec.structs.replace(manifest, operators=operators)


def _history_entry(line: bytes) -> Manifest | None:
    try:
        return msgspec.json.decode(line, type=Manifest)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None  # cut short by a crash


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"
