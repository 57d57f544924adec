"""`stdin()` source and `stdout()` sink: pipelines as Unix filters.

stdin is read without blocking the event loop (waiting for the descriptor to be readable, then
reading what is there); the lines that came are handed on as soon as nothing more is readable
(adaptive batches), so a slow pipe's line does not wait for `batch_timeout`.
stdout is at-least-once: what was printed cannot be taken back after a crash.
"""

from __future__ import annotations

import os
import select
import stat
import sys
from typing import Literal

import anyio
import msgspec

from rillet.runtime.plugin import (
    ConnectorError,
    Flushing,
    Plugin,
    Positioned,
    SinkContext,
    SourceBatch,
    SourceContext,
)

from .formats import CsvParser, CsvRows, CsvWriter, decode_jsonl, decode_lines, encode_jsonl
from .lines import LineSplitter

plugin = Plugin("std")

CHUNK_BYTES = 1 << 16


class StdinConfig(msgspec.Struct, forbid_unknown_fields=True):
    format: Literal["jsonl", "csv", "lines"] = "jsonl"


class StdoutConfig(msgspec.Struct, forbid_unknown_fields=True):
    format: Literal["jsonl", "csv"] = "jsonl"


@plugin.source("stdin", config=StdinConfig)
class StdinSource(Positioned):
    """Reads records from standard input (jsonl, csv or lines); offsets are bytes (rows for csv)."""

    def __init__(self, config: StdinConfig, context: SourceContext) -> None:
        self.config = config
        self.context = context
        self.fd = sys.stdin.fileno()
        self.splitter = LineSplitter()
        self.csv = CsvRows(context.schema) if config.format == "csv" else None
        self.csv_parser = CsvParser()
        self.ended = False

    async def open(self) -> None:
        self.regular = stat.S_ISREG(os.fstat(self.fd).st_mode)

    async def _read_chunk(self, timeout_s: float | None) -> None:
        if not self.regular:
            with anyio.move_on_after(timeout_s):
                try:
                    await anyio.wait_readable(self.fd)
                except OSError:  # e.g. /dev/null cannot be polled; reading it never blocks
                    self.regular = True
            if timeout_s is not None and not _readable_now(self.fd):
                return
        chunk = os.read(self.fd, CHUNK_BYTES)
        if chunk:
            self.splitter.feed(chunk)
        else:
            self.ended = True
            self.splitter.finish()

    def position(self) -> int:
        """Bytes of standard input consumed; a new run reads a new input, so it never seeks."""
        return self.splitter.position

    async def read_batch(self) -> SourceBatch | None:
        size, clock = self.context.batch_size, self.context.clock
        deadline = clock.monotonic_s() + self.context.batch_timeout_s
        while self.splitter.pending < size and not self.ended:
            now = clock.monotonic_s()
            if now >= deadline:
                break
            if self.splitter.pending and not self.regular and not _readable_now(self.fd):
                break  # hand on what came, nothing more is ready (adaptive batches)
            await self._read_chunk(deadline - now)
        if not self.splitter.pending and not self.csv_parser.pending:
            return None if self.ended else SourceBatch([], [], "<stdin>")
        lines, offsets = self.splitter.take(size)
        if self.config.format == "lines":
            return SourceBatch(decode_lines(lines, offsets), offsets, "<stdin>")
        if self.csv is not None:
            rows = self.csv_parser.rows(lines)
            if self.ended and not self.splitter.pending:
                rows += self.csv_parser.finish()
            records, rows_at, bad = self.csv.decode(rows)
            return SourceBatch(records, rows_at, "<stdin>", bad)
        records, kept, bad = decode_jsonl(lines, offsets, self.context.schema)
        return SourceBatch(records, kept, "<stdin>", bad)

    async def aclose(self) -> None:
        pass


def _readable_now(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


@plugin.sink("stdout", config=StdoutConfig, delivery="at-least-once")
class StdoutSink(Flushing):
    """Writes records to standard output as JSON lines or CSV, flushed after every batch."""

    def __init__(self, config: StdoutConfig, context: SinkContext) -> None:
        self.name = context.name
        self.csv = CsvWriter() if config.format == "csv" else None

    async def open(self) -> None:
        pass

    async def precommit(self) -> None:
        """Flush; what was printed cannot be taken back, so a resumed run may print again."""
        sys.stdout.buffer.flush()

    async def write(self, records: list[dict]) -> None:
        data = self.csv.encode(records) if self.csv else encode_jsonl(records)
        self._flush(data)

    async def aclose(self) -> None:
        self._flush(b"")

    def _flush(self, data: bytes) -> None:
        try:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        except OSError as e:  # the reader went away (`| head`), or the disk is full (`> file`)
            # point stdout at /dev/null so that the interpreter's own flush at exit stays quiet
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            what = (
                "standard output was closed"
                if isinstance(e, BrokenPipeError)
                else f"cannot write standard output: {e.strerror}"
            )
            raise ConnectorError(f"sink `{self.name}`: {what}") from e
