"""One file of the `file` sink (filesink.py), exactly-once: each checkpoint records the file's
committed length and a checksum of its tail, and a resumed run cuts the file back to that
length, after checking that the file still holds what was committed (rather than padding a
shortened file). Each batch is flushed as it is written, so a reader of the file sees it at once
rather than at the next checkpoint; lines past the last checkpoint are what a resume after a
crash cuts back (and writes again). One process writes a file at a time (an advisory lock)."""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

from rillet.runtime.plugin import ConnectorError, SinkContext, StateMismatch

from .filepaths import display_path
from .formats import CsvWriter, encode_jsonl

if TYPE_CHECKING:
    from .filesink import FileSinkConfig

TAIL_BYTES = 4096  # checked on resuming a sink's file


class SinkFile:
    """One file the `file` sink writes (all of it, or one partition folder's), as JSON lines or
    CSV, creating its folder; a resumed run cuts it back to the length committed at the
    checkpoint it resumes from, then writes on. It first makes sure the file still holds what
    was committed (its length, and a checksum of the bytes just before it), since cutting back a
    file that someone emptied or replaced would pad it with zeros or splice two outputs
    together."""

    def __init__(self, config: FileSinkConfig, context: SinkContext, path: Path) -> None:
        self.config = config
        self.context = context
        self.path = path
        self.shown = display_path(str(self.path), context.base_dir)
        self.handle: io.BufferedRandom | None = None
        self.csv = CsvWriter(config.delimiter, config.header) if config.format == "csv" else None
        self.committed: dict | None = None
        self.starting_over = False  # a fresh run has not yet cut the earlier output away

    def restore(self, committed: dict) -> None:
        """Resume at `committed`, which must be this file's: the lines before it are in the
        file it names (a checkpoint taken before paths were kept is taken as this file's)."""
        written = committed.get("path", self.shown)
        if written != self.shown:
            raise StateMismatch(
                f"sink `{self.context.name}` wrote to {written} up to the checkpoint being "
                f"resumed, the pipeline now names {self.shown}; run with --fresh to write "
                f"{self.shown} from the start, or put the path back"
            )
        self.committed = committed

    async def precommit(self) -> dict:
        """Flush and fsync; the committed length is where a resumed run cuts the file, and the
        checksum of the bytes before it tells that the file is still the one written."""
        assert self.handle is not None
        if self.starting_over:
            self._start_over()
        self.handle.flush()
        os.fsync(self.handle.fileno())
        length = self.handle.tell()
        return {
            "path": self.shown,
            "length": length,
            "header": self.csv.header if self.csv else None,
            "tail": _tail_sum(self.handle.fileno(), length),
        }

    def _open_file(self) -> io.BufferedRandom:
        committed = self.committed
        length = committed["length"] if committed is not None else 0
        if length and not self.path.is_file():
            raise self._lost("is gone")
        # opened without truncating: only a checked file is cut back (to 0 when starting over)
        handle = open(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666), "r+b")  # noqa: SIM115
        try:
            self._lock(handle.fileno())
            if committed is not None:
                self._check(handle.fileno(), committed)
                handle.truncate(length)  # what came after was never committed
                handle.seek(length)
            else:  # cut at the first write or checkpoint: a run that fails on its first batch
                self.starting_over = True  # leaves the earlier output as it was
        except BaseException:
            handle.close()
            raise
        if self.csv is not None and committed is not None:
            self.csv.header = committed["header"]
        return handle

    def _lock(self, fd: int) -> None:
        """Hold the file alone while it is open (released when it is closed, or the process
        ends): two runs writing one file would cut back and interleave each other's lines."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConnectorError(
                f"sink `{self.context.name}`: {self.shown} is being written by another run (of "
                "this pipeline or another); stop that run, or give each pipeline a file of its "
                "own"
            ) from None

    def _check(self, fd: int, committed: dict) -> None:
        """The file still holds what the checkpoint committed (a checkpoint written before the
        checksum was kept is checked by its length alone)."""
        size, length = os.fstat(fd).st_size, committed["length"]
        if size < length:
            raise self._lost(
                f"holds {size:,} bytes, fewer than the {length:,} committed in the "
                "checkpoint being resumed (it was emptied, cut or replaced since)"
            )
        tail = committed.get("tail")
        if tail is not None and _tail_sum(fd, length) != tail:
            raise self._lost(
                f"no longer holds the {length:,} bytes committed in the checkpoint "
                "being resumed (it was replaced or rewritten since)"
            )

    def _lost(self, what: str) -> ConnectorError:
        return ConnectorError(
            f"sink `{self.context.name}`: cannot resume: {self.shown} {what}; put the file back "
            "as it was, or run with --fresh to write it again from the start"
        )

    async def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.handle = self._open_file()
        except OSError as e:
            reason = e.strerror
            blocking = next((p for p in self.path.parents if p.is_file()), None)
            if blocking is not None:  # mkdir would only say "File exists"
                shown = display_path(str(blocking), self.context.base_dir)
                reason = f"{shown} is a file, not a folder"
            raise ConnectorError(
                f"sink `{self.context.name}`: cannot write {self.config.path}: {reason}"
            ) from e

    def _start_over(self) -> None:
        assert self.handle is not None
        self.handle.truncate(0)
        self.starting_over = False

    async def write(self, records: list[dict]) -> None:
        assert self.handle is not None
        if self.starting_over:
            self._start_over()
        data = self.csv.encode(records) if self.csv else encode_jsonl(records)
        self.handle.write(data)
        # readable at once, not only at the next checkpoint: what a resume cuts back is what
        # came after the committed length, flushed or not (`_open_file`)
        self.handle.flush()

    async def aclose(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def _tail_sum(fd: int, length: int) -> str:
    """A checksum of the last `TAIL_BYTES` (or fewer) bytes before `length`: cheap to take at
    every checkpoint, and what an emptied, rewritten or replaced file would not match."""
    start = max(0, length - TAIL_BYTES)
    return hashlib.blake2b(os.pread(fd, length - start, start), digest_size=8).hexdigest()
