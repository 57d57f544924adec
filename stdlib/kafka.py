"""The `kafka` source: reading a Kafka topic (librdkafka through confluent-kafka, chosen by
measurement: bench/kafka_clients.py). Its sink is `kafkasink.py`.

Partitions are assigned, not subscribed: worker `i` of `n` reads the partitions `p` with
`p % n == i`, so no group rebalance ever moves a partition (nor delays the first record by the
seconds a join takes). The consumer group only keeps offsets: `commit(position)` commits them
once the checkpoint holding that position is saved, so a crash replays what no checkpoint
covered and loses nothing. A run without a checkpoint starts at the group's committed offsets,
and a partition the group has none for where `from` says (`kafkastart.py`).

A position is the next offset of each partition handed out. Partitions are independent, each in
its own order, so the source is `Parted`: a batch holds one partition's messages, in order, and
names it as its `part` (a read's messages, mixed, become a batch per partition), so that
`event_time` keeps a watermark per partition and a lagging one holds the others back instead of
seeing its records made late. Records are JSON documents (one per message); one that is not is
a bad record whose offset is `TOPIC/PARTITION:OFFSET`.
"""

from __future__ import annotations

import logging
from collections import deque
from functools import cache
from typing import Any, Literal

import anyio
import msgspec

from rillet.runtime.plugin import (
    Committing,
    ConnectorError,
    KnowsUnread,
    Parted,
    Plugin,
    Seekable,
    SourceBatch,
    SourceContext,
)

from .extras import KAFKA
from .formats import decode_jsonl, decode_lines
from .kafkastart import EARLIEST, first_offsets, start_ms

plugin = Plugin("std")
log = logging.getLogger(__name__)


@cache
def _permanent() -> frozenset[int]:
    """Errors a consumer does not recover from by itself; librdkafka retries the others."""
    from confluent_kafka import KafkaError

    return frozenset(
        {
            KafkaError.UNKNOWN_TOPIC_OR_PART,
            KafkaError._UNKNOWN_PARTITION,
            KafkaError._UNKNOWN_TOPIC,
            KafkaError.TOPIC_AUTHORIZATION_FAILED,
            KafkaError.GROUP_AUTHORIZATION_FAILED,
        }
    )


POLL_S = 0.005
"""How long a read waits between polls of an empty topic (within the batch timeout)."""
QUIET = {"log_level": 0}
"""librdkafka logs every failed connection on standard error; a failure reaches the user as one
line instead, from the connector."""
FETCH_WAIT_MS = 10
"""How long the broker may hold a fetch that finds nothing new. Kafka answers a fetch as soon as
a message arrives, but Tansu only once this runs out: at librdkafka's default (500 ms) a record
waited 200 ms to be read at light load, at 10 ms, 3 ms; the cost is a fetch every 10 ms from an
idle consumer."""
REQUEST_TIMEOUT_S = 10.0
"""For a request to the broker (metadata, offsets): beyond it, the broker is unreachable."""


class KafkaSourceConfig(msgspec.Struct, forbid_unknown_fields=True):
    brokers: str
    """`HOST:PORT[,HOST:PORT...]`, as Kafka's `bootstrap.servers`."""
    topic: str
    group: str = "rillet"
    format: Literal["jsonl", "lines"] = "jsonl"
    """Each message a JSON document, or `lines`: its text as `{"line": ...}`."""
    until_empty: bool = False
    """End once every partition has been read to its end, instead of waiting for more."""
    metadata: bool = False
    """Add each message's key, partition, offset and timestamp to its record (`METADATA`)."""
    start: str = msgspec.field(default=EARLIEST, name="from")
    """Where a partition with no checkpoint nor committed offset starts (`kafkastart.py`)."""

    def __post_init__(self) -> None:
        start_ms(self.start)


METADATA: dict[str, Any] = {
    "kafka_key": str | None,
    "kafka_partition": int,
    "kafka_offset": int,
    "kafka_timestamp": int | None,
}
"""The fields `metadata=true` adds, with their types: the key as text (null when none), and
the timestamp in epoch milliseconds as `event_time` reads it (null when the broker has none)."""


def metadata_fields(config: KafkaSourceConfig) -> dict[str, Any]:
    """What the checker learns a source adds (`Spec.adds`)."""
    return METADATA if config.metadata else {}


def _metadata(message: Any) -> dict[str, Any]:
    from confluent_kafka import TIMESTAMP_NOT_AVAILABLE

    key, (kind, stamp) = message.key(), message.timestamp()
    return {
        "kafka_key": None if key is None else key.decode("utf-8", "replace"),
        "kafka_partition": message.partition(),
        "kafka_offset": message.offset(),
        "kafka_timestamp": None if kind == TIMESTAMP_NOT_AVAILABLE else stamp,
    }


@plugin.source(
    "kafka",
    config=KafkaSourceConfig,
    shared=True,
    needs=KAFKA,
    adds=metadata_fields,
    bounded=lambda c: c.until_empty,
)
class KafkaSource(Seekable, Committing, KnowsUnread, Parted):
    """Reads a Kafka topic's partitions in batches; offsets are committed to the consumer group
    only once a checkpoint covering them is saved."""

    def __init__(self, config: KafkaSourceConfig, context: SourceContext) -> None:
        self.config, self.context = config, context
        self.who = f"source `{context.name}` (kafka {config.brokers}, topic {config.topic})"
        self.consumer: Any = None
        self.partitions: list[int] = []
        self.next: dict[int, int] = {}  # partition -> next offset to deliver
        self.at_end: set[int] = set()  # partitions read to their end (the broker said so)
        self.before: dict[int, int] = {}  # partition -> the `from` time it skips messages before
        self.pending: deque[tuple[int, list[Any]]] = deque()  # read, each a batch to come

    def _partition(self, partition: int, offset: int) -> Any:
        from confluent_kafka import TopicPartition

        return TopicPartition(self.config.topic, partition, offset)

    async def open(self) -> None:
        from confluent_kafka import OFFSET_INVALID, Consumer, KafkaException

        self.consumer = Consumer(
            {
                "bootstrap.servers": self.config.brokers,
                **QUIET,
                "group.id": self.config.group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "enable.partition.eof": True,  # how a read knows it is at the end
                "fetch.wait.max.ms": FETCH_WAIT_MS,
            }
        )
        try:
            topics = await anyio.to_thread.run_sync(
                lambda: self.consumer.list_topics(self.config.topic, timeout=REQUEST_TIMEOUT_S)
            )
            found = topics.topics.get(self.config.topic)
            if found is None or found.error is not None or not found.partitions:
                raise ConnectorError(f"{self.who}: the topic does not exist")
            worker, workers = self.context.worker, self.context.workers
            self.partitions = sorted(p for p in found.partitions if p % workers == worker)
            committed = await anyio.to_thread.run_sync(
                lambda: self.consumer.committed(
                    [self._partition(p, OFFSET_INVALID) for p in self.partitions],
                    timeout=REQUEST_TIMEOUT_S,
                )
            )
            self.next = {tp.partition: tp.offset for tp in committed if tp.offset >= 0}
            fresh = [p for p in self.partitions if p not in self.next]
            starts, self.before = await anyio.to_thread.run_sync(
                lambda: first_offsets(
                    self.consumer, self.config.topic, fresh, self.config.start, REQUEST_TIMEOUT_S
                )
            )
        except KafkaException as e:
            raise ConnectorError(f"{self.who}: cannot reach the broker: {e}") from e
        self.next.update(starts)
        self._assign()

    def _assign(self) -> None:
        self.consumer.assign([self._partition(p, self.next.get(p, 0)) for p in self.partitions])

    def parts(self) -> tuple[str, ...]:
        return tuple(map(str, self.partitions))

    def position(self) -> dict:
        return {str(p): offset for p, offset in self.next.items()}

    def seek(self, position: dict) -> None:
        self.next.update({int(p): offset for p, offset in position.items()})
        self.at_end.clear()
        for partition in position:  # a checkpoint's place wins over `from`
            self.before.pop(int(partition), None)
        self.pending.clear()
        if self.consumer is not None:
            self._assign()

    async def commit(self, position: dict) -> None:
        offsets = [self._partition(int(p), offset) for p, offset in position.items()]
        if offsets:
            await anyio.to_thread.run_sync(
                lambda: self.consumer.commit(offsets=offsets, asynchronous=False)
            )

    async def unread(self) -> bool:
        """Whether any partition holds a message past the position: read with a consumer of its
        own, up to a message or the end of every partition (a broker's high watermark is not
        trusted: Tansu's counts to the start of its last batch)."""
        from confluent_kafka import Consumer

        peek = Consumer(
            {
                "bootstrap.servers": self.config.brokers,
                **QUIET,
                "group.id": self.config.group,
                "enable.auto.commit": False,
                "enable.partition.eof": True,
            }
        )
        try:
            peek.assign([self._partition(p, self.next.get(p, 0)) for p in self.partitions])
            ended: set[int] = set()
            while ended != set(self.partitions):
                messages = await anyio.to_thread.run_sync(lambda: peek.consume(100, 1.0))
                for message in messages:
                    if message.error() is None:
                        return True
                    if (partition := message.partition()) is not None:
                        ended.add(partition)
            return False
        finally:
            await anyio.to_thread.run_sync(peek.close)

    async def read_batch(self) -> SourceBatch | None:
        clock = self.context.clock
        deadline = clock.monotonic_s() + self.context.batch_timeout_s
        while not self.pending:
            self._split(self.consumer.consume(num_messages=self.context.batch_size, timeout=0))
            if self.pending:
                break
            if self.config.until_empty and self.at_end >= set(self.partitions):
                return None
            if clock.monotonic_s() >= deadline:
                return SourceBatch([], [])  # nothing came: give the runtime its turn
            await clock.sleep(POLL_S)
        return self._batch(*self.pending.popleft())

    def _split(self, messages: list[Any]) -> None:
        """Each partition's messages of a read, in order, to be a batch of their own; which
        partitions the broker says are read to their end."""
        from confluent_kafka import KafkaError

        permanent = _permanent()
        read: dict[int, list[Any]] = {}
        for message in messages:
            error, partition = message.error(), message.partition()
            if error is None:
                self.at_end.discard(partition)
                if partition in self.before and self._early(partition, message):
                    self.next[partition] = message.offset() + 1  # none of it is waiting
                    continue
                read.setdefault(partition, []).append(message)
            elif error.code() == KafkaError._PARTITION_EOF:
                mine = read.get(partition)
                consumed = mine[-1].offset() + 1 if mine else self.next.get(partition, 0)
                if message.offset() >= consumed:
                    self.at_end.add(partition)
                    self.before.pop(partition, None)  # what comes next came after the start
            elif error.fatal() or error.code() in permanent:
                raise ConnectorError(f"{self.who}: {error}")
            else:  # a lost connection, say: librdkafka reconnects and fetches again
                log.warning("%s: %s; retrying", self.who, error)
        self.pending.extend(read.items())

    def _batch(self, partition: int, messages: list[Any]) -> SourceBatch:
        """One partition's messages as a batch; they are handed out from here on."""
        topic = self.config.topic
        self.next[partition] = messages[-1].offset() + 1
        lines = [message.value() or b"" for message in messages]
        ids = [f"{topic}/{partition}:{message.offset()}" for message in messages]
        metadata = [_metadata(m) for m in messages] if self.config.metadata else []
        return self._decoded(lines, ids, metadata, str(partition))

    def _early(self, partition: int, message: Any) -> bool:
        """Whether a partition started at a `from` time's offset is not there yet: on a broker
        that answered the lookup roughly, its messages stamped before the time are skipped up
        to the first that is not."""
        if message.timestamp()[1] < self.before[partition]:
            return True
        del self.before[partition]
        return False

    def _decoded(
        self, lines: list[bytes], ids: list[str], metadata: list[dict], part: str
    ) -> SourceBatch:
        """The batch of records the messages hold, each with its message's metadata added when
        asked (after decoding: a schema drops the fields it does not declare)."""
        records, offsets, bad = (
            (decode_lines(lines, ids), ids, [])
            if self.config.format == "lines"
            else decode_jsonl(lines, ids, self.context.schema)
        )
        if metadata:
            of = dict(zip(ids, metadata))  # a bad or empty message leaves no record
            for record, offset in zip(records, offsets):
                record.update(of[offset])
        return SourceBatch(records, list(offsets), self.config.topic, bad, part=part)

    async def aclose(self) -> None:
        if self.consumer is not None:
            consumer, self.consumer = self.consumer, None
            await anyio.to_thread.run_sync(consumer.close)


__all__ = ["KafkaSource", "KafkaSourceConfig", "plugin"]
