"""The shuffle between workers, on Redis Streams: a sink that sends each record to the stream of
the partition its key hashes to, and a source that reads one partition (`runtime/partition.py`).

Exactly once through crashes, without a transaction spanning processes:

- Every entry a producer writes is tagged with the producer (`p`), its *generation* (`g`, a
  counter each start of that producer raises) and the *epoch* (`e`): the number of the
  checkpoint that will cover it. An entry holds a batch of records (`d`), a watermark (`w`) or
  the producer's end of input (`end`).
- When a producer's checkpoint is saved, its `commit` records "epoch e of producer p is the one
  generation g wrote" in a hash, for e and every earlier epoch not yet recorded (the runtime
  commits only the newest of several checkpoints saved at once).
- A reader delivers an entry only once its (p, e) is recorded with the entry's own generation;
  it skips an entry whose (p, e) was recorded for another generation, or whose generation is
  dead (the producer restarted) and never committed it: those are the entries of a producer
  that crashed before its checkpoint, written again by its replay. Until then the reader waits
  at that entry, so a partition's order is kept.
- A producer that restarts from a checkpoint whose commit it never made (the crash came between
  the saved manifest and `commit`) makes that commit first (`restore`).
- The reader's position is the id of the last entry it delivered, with each producer's watermark
  and which producers have ended; its `commit` trims its stream up to there.
- A lost connection: reads and commits are retried with backoff (they can be repeated); a write
  is not (its entries may have landed), so the worker stops, its supervisor restarts it from its
  last checkpoint, and the entries of the cut-off epoch are skipped as those of a dead generation.

Keys: `{prefix}:{edge}:{partition}` (the streams), `{prefix}:{edge}:gen:{p}` (generations),
`{prefix}:{edge}:commits:{p}` (epoch -> generation).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

import msgspec

from rillet.runtime.plugin import (
    Clock,
    Committing,
    ConnectorError,
    HearsEventTime,
    Plugin,
    Reopenable,
    Seekable,
    SinkContext,
    SourceBatch,
    SourceContext,
    Transactional,
    partition_of,
)

from .extras import REDIS
from .retry import Backoff
from .shufflebook import END, IDLE, RECORDS, WATERMARK, Epochs, Fate, Producers, ShuffleConfig, fate

log = logging.getLogger(__name__)
plugin = Plugin("std")
_encode = msgspec.json.Encoder().encode
_decode_records = msgspec.json.Decoder(list[dict[str, Any]]).decode
READ_COUNT = 100
"""Entries read per round trip; each holds up to one batch of records."""


RETRY_FOR_S = 60.0
"""How long a lost broker is retried (reads, commits) before the worker stops."""


class _Broker:
    """A Redis connection that names the broker in its errors and retries what may be retried."""

    def __init__(self, url: str, what: str, clock: Clock) -> None:
        import redis.asyncio  # imported when a run uses the shuffle, not by every start-up
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self.url, self.what, self.clock = url, what, clock
        self.errors = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError, OSError)
        # no retries inside the client: a write sent twice would be delivered twice
        self.client: Any = redis.asyncio.Redis.from_url(url, retry=Retry(NoBackoff(), 0))

    def lost(self, error: BaseException) -> ConnectorError:
        return ConnectorError(
            f"{self.what}: lost the broker at {self.url}: {error}\n"
            "  hint: the worker resumes from its last checkpoint once Redis "
            "answers again"
        )

    async def open(self) -> None:
        try:
            await self.client.ping()
        except self.errors as e:
            raise ConnectorError(
                f"{self.what}: cannot reach the broker at {self.url}: {e}\n"
                "  hint: start Redis, or pass the right --broker URL"
            ) from e

    async def retried(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """`method` again after a lost connection, backing off, for up to `RETRY_FOR_S`."""
        backoff = Backoff(self.clock, RETRY_FOR_S)
        while True:
            try:
                return await getattr(self.client, method)(*args, **kwargs)
            except self.errors as e:
                delay = backoff.next_delay()
                if delay is None:
                    raise self.lost(e) from e
                log.warning("%s: broker unreachable (%s); retrying in %.1fs", self.what, e, delay)
                await self.clock.sleep(delay)

    async def once(self, pipeline: Any) -> None:
        try:
            await pipeline.execute()
        except self.errors as e:
            raise self.lost(e) from e

    async def aclose(self) -> None:
        await self.client.aclose()


@plugin.sink("shuffle", config=ShuffleConfig, delivery="exactly-once", internal=True, needs=REDIS)
class ShuffleSink(Committing, Transactional, HearsEventTime):
    """One worker's side of a shuffle between `--workers`: each record to the worker that owns
    its key, exactly once. Put into a worker's plan by rillet, not written in a pipeline."""

    def __init__(self, config: ShuffleConfig, context: SinkContext) -> None:
        edge = context.name
        self.keys = tuple(config.keys)
        self.key = f"{config.prefix}:{edge}"
        self.producer, self.partitions = context.worker, context.workers
        self.epochs = Epochs()
        self.broker = _Broker(config.broker, f"shuffle `{edge}`", context.clock)

    def restore(self, committed: dict) -> None:
        self.epochs.restore(committed)

    async def open(self) -> None:
        await self.broker.open()
        recorded = await self.broker.retried("hkeys", self._commits)
        self.epochs.recorded = max((int(epoch) for epoch in recorded), default=0)
        if self.epochs.resumed is not None:  # the commits a crash may have cut off
            await self.commit(self.epochs.resumed)
        generation = await self.broker.retried("incr", f"{self.key}:gen:{self.producer}")
        self.epochs.generation = generation

    def _tag(self) -> dict[Any, Any]:
        return {"p": self.producer, "g": self.epochs.generation, "e": self.epochs.epoch}

    async def write(self, records: list[dict]) -> None:
        parts: dict[int, list[dict]] = defaultdict(list)
        for record in records:
            parts[partition_of(record, self.keys, self.partitions)].append(record)
        async with self.broker.client.pipeline(transaction=False) as pipe:
            for partition, part in parts.items():
                pipe.xadd(f"{self.key}:{partition}", {**self._tag(), RECORDS: _encode(part)})
            await self.broker.once(pipe)

    async def _to_all(self, fields: dict[Any, Any]) -> None:
        async with self.broker.client.pipeline(transaction=False) as pipe:
            for partition in range(self.partitions):
                pipe.xadd(f"{self.key}:{partition}", {**self._tag(), **fields})
            await self.broker.once(pipe)

    async def watermark(self, ts_ms: int) -> None:
        await self._to_all({WATERMARK: ts_ms})

    async def idle(self) -> None:
        await self._to_all({IDLE: 1})

    async def end_of_input(self) -> None:
        await self._to_all({END: 1})

    async def precommit(self) -> dict:
        """Entries are already in their streams (written in order on one connection); the
        epoch they carry is committed by `commit` once the checkpoint is saved."""
        return self.epochs.precommit()

    @property
    def _commits(self) -> str:
        return f"{self.key}:commits:{self.producer}"

    async def commit(self, committed: dict) -> None:
        epochs = self.epochs.to_record(committed)
        if epochs is not None:
            mapping = dict.fromkeys(epochs, committed["generation"])
            await self.broker.retried("hset", self._commits, mapping=mapping)
            self.epochs.recorded = epochs[-1]

    async def aclose(self) -> None:
        await self.broker.aclose()


@plugin.source("shuffle", config=ShuffleConfig, internal=True, needs=REDIS)
class ShuffleSource(Seekable, Committing, Reopenable):
    """This worker's partition of a shuffle between `--workers`: the records whose key it owns.
    Put into a worker's plan by rillet, not written in a pipeline."""

    def __init__(self, config: ShuffleConfig, context: SourceContext) -> None:
        edge = context.name
        self.key = f"{config.prefix}:{edge}"
        self.stream = f"{self.key}:{context.worker}"
        self.block_ms = max(1, int(context.batch_timeout_s * 1000))
        self.last = "0-0"
        self.producers = Producers(context.workers)
        self.delivered = 0
        self.committed: dict[tuple[int, int], int] = {}  # (producer, epoch) -> generation
        self.broker = _Broker(config.broker, f"shuffle `{edge}`", context.clock)

    def position(self) -> dict:
        return {"last": self.last, **self.producers.position(), "delivered": self.delivered}

    def seek(self, position: dict) -> None:
        self.last = position["last"]
        self.producers.seek(position)
        self.delivered = position["delivered"]

    def reopen(self) -> None:
        """The run goes on from a finished one over input that grew: every producer runs again
        and sends its end again."""
        self.producers.ended = set()

    async def open(self) -> None:
        await self.broker.open()

    async def _fate(self, producer: int, generation: int, epoch: int) -> Fate:
        """The generation is read before the commits (`shufflebook.fate`)."""
        known = self.committed.get((producer, epoch))
        current = 0
        if known is None:
            current = int(await self.broker.retried("get", f"{self.key}:gen:{producer}") or 0)
            raw = await self.broker.retried("hget", f"{self.key}:commits:{producer}", epoch)
            if raw is not None:
                known = self.committed[producer, epoch] = int(raw)
        return fate(known, current, generation)

    async def read_batch(self) -> SourceBatch | None:
        producers = self.producers
        if producers.all_ended():
            return None
        entries = await self.broker.retried(
            "xrange", self.stream, f"({self.last}", "+", count=READ_COUNT
        )
        records: list[dict] = []
        sender: int | None = None  # a batch holds one producer's records: its own stream
        waiting = False
        for entry_id, fields in entries:
            producer, generation, epoch = (int(fields[k]) for k in (b"p", b"g", b"e"))
            verdict = await self._fate(producer, generation, epoch)
            if verdict == "wait":
                waiting = True
                break
            if verdict == "deliver":
                kind = next(k for k in (RECORDS, WATERMARK, IDLE, END) if k in fields)
                if kind == RECORDS:
                    if sender is not None and sender != producer:
                        break
                    sender = producer
                    records += _decode_records(fields[RECORDS])
                    producers.sending(producer)
                else:
                    producers.heard(producer, kind, fields[kind])
            self.last = entry_id.decode()
        first, self.delivered = self.delivered, self.delivered + len(records)
        if not entries:  # wait for the next entry, or the time a batch may take
            await self.broker.retried(
                "xread", {self.stream: self.last}, count=1, block=self.block_ms
            )
        elif waiting and not records:  # the head waits for its producer's checkpoint
            await self.broker.clock.sleep(self.block_ms / 1000)
        return producers.batch(records, first, sender)

    async def commit(self, position: dict) -> None:
        await self.broker.retried("xtrim", self.stream, minid=position["last"], approximate=False)

    async def aclose(self) -> None:
        await self.broker.aclose()


async def clear(url: str, prefix: str, clock: Clock) -> int:
    """Delete every key of a run's shuffles (`--fresh`): how many there were."""
    broker = _Broker(url, "shuffle", clock)
    try:
        await broker.open()
        client = broker.client
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        for start in range(0, len(keys), 1000):
            await client.delete(*keys[start : start + 1000])
        return len(keys)
    finally:
        await broker.aclose()


__all__ = ["ShuffleSink", "ShuffleSource", "clear", "plugin"]
