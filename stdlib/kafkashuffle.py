"""The shuffle between workers on Kafka (`--broker kafka://HOST:PORT`), as Kafka Streams does it
with repartition topics: a sink that sends each record to the partition of the topic
`rillet.GROUP.EDGE` its key hashes to, and a source that reads this worker's partition.

The protocol is Redis's (`shuffle.py`, `shufflebook.py`), exactly once through crashes without
Kafka transactions: each message carries its producer, generation and epoch in headers (`p`,
`g`, `e`) and its kind (`k`: `d` a JSON list of records, `w` a watermark, `i` idle, `end`); the
generations and commits live in the ledger topic `rillet.GROUP.EDGE.ledger`
(`kafkaledger.py`). A reader delivers a message once its epoch is committed by its generation,
skips it once that can no longer happen, and waits at it meanwhile, so a partition's order is
kept. The reader's position is the offset of the next message, kept in its checkpoint and
committed to the consumer group `rillet-shuffle` for the record (the broker keeps messages as
long as the topic's retention says: Kafka cannot trim a partition to a reader's position the
way Redis trims a stream).
"""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Any

import anyio
import msgspec

from rillet.runtime.plugin import (
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

from .extras import KAFKA
from .kafka import QUIET
from .kafkaledger import (
    Ledger,
    commit_entry,
    consumer,
    ensure_topics,
    generation_entry,
    topic_name,
)
from .shufflebook import END, IDLE, RECORDS, WATERMARK, Epochs, Producers, ShuffleConfig, fate

plugin = Plugin("std")
_encode = msgspec.json.Encoder().encode
_decode_records = msgspec.json.Decoder(list[dict[str, Any]]).decode
READ_COUNT = 100
"""Messages taken per poll; each holds up to one batch of records."""
MESSAGE_BYTES = 512 * 1024
"""A batch larger than this goes as several messages (brokers refuse messages over 1 MB)."""
FLUSH_TIMEOUT_S = 60.0
"""How long a checkpoint waits for the broker to take what was sent before the worker stops."""
POLL_S = 0.005
"""How long a read waits between polls of an empty partition (within the batch timeout)."""
WAIT_S = 0.01
"""How long a read waits when the next message's epoch is not committed yet."""


def _brokers(config: ShuffleConfig) -> str:
    """`HOST:PORT[,HOST:PORT]` of the `kafka://` URL of `--broker`."""
    return config.broker.removeprefix("kafka://").rstrip("/")


def _topics(config: ShuffleConfig, edge: str) -> tuple[str, str]:
    topic = topic_name(config.prefix, edge)
    return topic, f"{topic}.ledger"


@plugin.sink(
    "kafka_shuffle",
    config=ShuffleConfig,
    delivery="exactly-once",
    internal=True,
    needs=KAFKA,
)
class KafkaShuffleSink(Committing, Transactional, HearsEventTime):
    """One worker's side of a shuffle on Kafka: each record to the partition of the worker that
    owns its key, exactly once. Put into a worker's plan by rillet, not written in a pipeline."""

    def __init__(self, config: ShuffleConfig, context: SinkContext) -> None:
        self.clock = context.clock
        self.keys = tuple(config.keys)
        self.producer_id, self.partitions = context.worker, context.workers
        self.topic, self.ledger_topic = _topics(config, context.name)
        self.brokers = _brokers(config)
        self.who = f"shuffle `{context.name}` (kafka {self.brokers})"
        self.epochs = Epochs()
        self.producer: Any = None
        self.failed: str | None = None

    def restore(self, committed: dict) -> None:
        self.epochs.restore(committed)

    async def open(self) -> None:
        from confluent_kafka import Producer

        topics = {self.topic: self.partitions, self.ledger_topic: 1}
        await ensure_topics(self.brokers, self.who, topics)
        ledger = Ledger(self.brokers, self.ledger_topic, self.who, self.clock)
        try:
            await ledger.open()
        finally:
            ledger.close()
        self.producer = Producer(
            {
                "bootstrap.servers": self.brokers,
                **QUIET,
                "enable.idempotence": True,  # each partition's messages land once, in order
                "compression.type": "lz4",
                "linger.ms": 1,
                "error_cb": self._error,
            }
        )
        self.epochs.recorded = ledger.recorded(self.producer_id)
        if self.epochs.resumed is not None:  # the commits a crash may have cut off
            await self.commit(self.epochs.resumed)
        self.epochs.generation = ledger.generation(self.producer_id) + 1
        await self._record(generation_entry(self.producer_id, self.epochs.generation))

    def _error(self, error: Any) -> None:
        if error.fatal() and self.failed is None:
            self.failed = str(error)

    def _delivered(self, error: Any, _message: Any) -> None:
        if error is not None and self.failed is None:
            self.failed = str(error)

    def _check(self) -> None:
        if self.failed is not None:
            raise ConnectorError(
                f"{self.who}: {self.failed}\n  hint: the worker resumes from its last "
                "checkpoint once the broker takes messages again"
            )

    async def _send(self, partition: int, kind: bytes, value: bytes) -> None:
        tag = self.epochs
        headers = [
            ("p", b"%d" % self.producer_id),
            ("g", b"%d" % tag.generation),
            ("e", b"%d" % tag.epoch),
            ("k", kind),
        ]
        while True:
            try:
                self.producer.produce(
                    self.topic, value, partition=partition, headers=headers,
                    on_delivery=self._delivered,
                )  # fmt: skip
                return
            except BufferError:  # the producer's queue is full: let it send, then go on
                self.producer.poll(0)
                await self.clock.sleep(0.001)

    async def _send_records(self, partition: int, records: list[dict]) -> None:
        value = _encode(records)
        if len(value) > MESSAGE_BYTES and len(records) > 1:
            half = len(records) // 2
            await self._send_records(partition, records[:half])
            await self._send_records(partition, records[half:])
        else:
            await self._send(partition, RECORDS, value)

    async def write(self, records: list[dict]) -> None:
        self._check()
        parts: dict[int, list[dict]] = defaultdict(list)
        for record in records:
            parts[partition_of(record, self.keys, self.partitions)].append(record)
        for partition, part in parts.items():
            await self._send_records(partition, part)
        self.producer.poll(0)

    async def _to_all(self, kind: bytes, value: bytes = b"") -> None:
        self._check()
        for partition in range(self.partitions):
            await self._send(partition, kind, value)
        self.producer.poll(0)

    async def watermark(self, ts_ms: int) -> None:
        await self._to_all(WATERMARK, b"%d" % ts_ms)

    async def idle(self) -> None:
        await self._to_all(IDLE)

    async def end_of_input(self) -> None:
        await self._to_all(END)

    async def _flush(self) -> None:
        left = await anyio.to_thread.run_sync(lambda: self.producer.flush(FLUSH_TIMEOUT_S))
        if left:
            self.failed = self.failed or (
                f"the broker did not take {left} messages within {FLUSH_TIMEOUT_S:g}s"
            )
        self._check()

    async def _record(self, entry: bytes) -> None:
        """Append to the ledger and wait until the broker has it."""
        self.producer.produce(self.ledger_topic, entry, partition=0, on_delivery=self._delivered)
        await self._flush()

    async def precommit(self) -> dict:
        """Every message sent is in its partition before the checkpoint is saved; the epoch
        they carry is committed by `commit` once it is."""
        await self._flush()
        return self.epochs.precommit()

    async def commit(self, committed: dict) -> None:
        epochs = self.epochs.to_record(committed)
        if epochs is not None:
            await self._record(commit_entry(self.producer_id, committed["generation"], epochs))
            self.epochs.recorded = epochs[-1]

    async def aclose(self) -> None:
        if self.producer is not None:
            producer, self.producer = self.producer, None
            await anyio.to_thread.run_sync(lambda: producer.flush(FLUSH_TIMEOUT_S))


@plugin.source("kafka_shuffle", config=ShuffleConfig, internal=True, needs=KAFKA)
class KafkaShuffleSource(Seekable, Committing, Reopenable):
    """This worker's partition of a shuffle on Kafka: the records whose key it owns. Put into
    a worker's plan by rillet, not written in a pipeline."""

    def __init__(self, config: ShuffleConfig, context: SourceContext) -> None:
        self.context = context
        self.topic, self.ledger_topic = _topics(config, context.name)
        self.brokers = _brokers(config)
        self.who = f"shuffle `{context.name}` (kafka {self.brokers})"
        self.partition = context.worker
        self.next = 0  # the offset of the next message to take
        self.producers = Producers(context.workers)
        self.delivered = 0
        self.pending: deque[Any] = deque()  # messages fetched, not yet taken
        self.ledger = Ledger(self.brokers, self.ledger_topic, self.who, context.clock)
        self.consumer: Any = None

    def position(self) -> dict:
        return {"next": self.next, **self.producers.position(), "delivered": self.delivered}

    def seek(self, position: dict) -> None:
        self.next = position["next"]
        self.producers.seek(position)
        self.delivered = position["delivered"]
        self.pending.clear()
        if self.consumer is not None:
            self._assign()

    def reopen(self) -> None:
        """The run goes on from a finished one over input that grew: every producer runs again
        and sends its end again."""
        self.producers.ended = set()

    def _assign(self) -> None:
        from confluent_kafka import TopicPartition

        self.consumer.assign([TopicPartition(self.topic, self.partition, self.next)])

    async def open(self) -> None:
        topics = {self.topic: self.context.workers, self.ledger_topic: 1}
        await ensure_topics(self.brokers, self.who, topics)
        await self.ledger.open()
        self.consumer = consumer(self.brokers)
        self._assign()

    async def _fetch(self) -> None:
        """Fill `pending`, waiting up to the batch timeout for a message."""
        clock = self.context.clock
        deadline = clock.monotonic_s() + self.context.batch_timeout_s
        while not self.pending:
            for message in self.consumer.consume(READ_COUNT, timeout=0):
                error = message.error()
                if error is None:
                    self.pending.append(message)
                elif error.fatal():
                    raise ConnectorError(f"{self.who}: {error}")
            if self.pending or clock.monotonic_s() >= deadline:
                return
            await clock.sleep(POLL_S)

    def _fate(self, headers: dict[str, bytes]) -> str:
        producer, generation, epoch = (int(headers[k]) for k in ("p", "g", "e"))
        known = self.ledger.committed(producer, epoch)
        if known is None:
            self.ledger.poll()
            known = self.ledger.committed(producer, epoch)
        return fate(known, self.ledger.generation(producer), generation)

    async def read_batch(self) -> SourceBatch | None:
        producers = self.producers
        if producers.all_ended():
            return None
        await self._fetch()
        records: list[dict] = []
        sender: int | None = None  # a batch holds one producer's records
        waiting = False
        while self.pending:
            message = self.pending[0]
            headers = dict(message.headers())
            producer = int(headers["p"])
            verdict = self._fate(headers)
            if verdict == "wait":
                waiting = True
                break
            if verdict == "deliver":
                kind = headers["k"]
                if kind == RECORDS:
                    if sender is not None and sender != producer:
                        break
                    sender = producer
                    records += _decode_records(message.value())
                    producers.sending(producer)
                else:
                    producers.heard(producer, kind, message.value())
            self.next = message.offset() + 1
            self.pending.popleft()
        first, self.delivered = self.delivered, self.delivered + len(records)
        if waiting and not records:  # the head waits for its producer's checkpoint
            await self.context.clock.sleep(WAIT_S)
        return producers.batch(records, first, sender)

    async def commit(self, position: dict) -> None:
        from confluent_kafka import TopicPartition

        offsets = [TopicPartition(self.topic, self.partition, position["next"])]
        await anyio.to_thread.run_sync(
            lambda: self.consumer.commit(offsets=offsets, asynchronous=False)
        )

    async def aclose(self) -> None:
        self.ledger.close()
        if self.consumer is not None:
            consumer, self.consumer = self.consumer, None
            await anyio.to_thread.run_sync(consumer.close)


__all__ = ["KafkaShuffleSink", "KafkaShuffleSource", "plugin"]
