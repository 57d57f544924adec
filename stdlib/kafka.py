"""The `kafka` source: reading a Kafka topic (librdkafka through confluent-kafka, chosen by
measurement: bench/kafka_clients.py). Its sink is `kafkasink.py`.

Partitions are assigned, not subscribed: worker `i` of `n` reads the partitions `p` with
`p % n == i`, so no group rebalance ever moves a partition (nor delays the first record by the
seconds a join takes). The consumer group only keeps offsets: `commit(position)` commits them
once the checkpoint holding that position is saved, so a crash replays what no checkpoint
covered and loses nothing. A run without a checkpoint starts at the group's committed offsets,
or at the start of each partition when the group has none.

A broker that goes away mid-run (`kafkaoutage.py`): librdkafka reconnects and fetches on from
where it was, the source asks the broker for the topic at growing pauses until it answers, and
the run stops once it has been away for `retry_timeout`. Offsets are committed asynchronously:
a commit waiting for a broker that is away would hold up the reads behind it.

A position is the next offset of each partition, which also orders records within a partition
(a batch keeps each partition's order). Records are JSON documents (one per message); one that
is not is a bad record whose offset is `TOPIC/PARTITION:OFFSET`.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

import anyio
import msgspec

from rillet.runtime.plugin import (
    Committing,
    ConnectorError,
    KnowsUnread,
    Plugin,
    Seekable,
    SourceBatch,
    SourceContext,
)

from .extras import KAFKA
from .formats import decode_jsonl, decode_lines
from .kafkaoutage import Outage, reason

plugin = Plugin("std")


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
REQUEST_TIMEOUT_S = 10.0
"""For a request to the broker (metadata, offsets): beyond it, the broker is unreachable."""
TRY_S = 1.0
"""How long one try of a broker that went away waits for its answer."""


class KafkaSourceConfig(msgspec.Struct, forbid_unknown_fields=True):
    brokers: str
    """`HOST:PORT[,HOST:PORT...]`, as Kafka's `bootstrap.servers`."""
    topic: str
    group: str = "rillet"
    format: Literal["jsonl", "lines"] = "jsonl"
    """Each message a JSON document, or `lines`: its text as `{"line": ...}`."""
    until_empty: bool = False
    """End once every partition has been read to its end, instead of waiting for more."""
    retry_timeout: int = 60_000
    """How long a broker that went away mid-run is waited for (ms)."""


@plugin.source("kafka", config=KafkaSourceConfig, shared=True, needs=KAFKA)
class KafkaSource(Seekable, Committing, KnowsUnread):
    """Reads a Kafka topic's partitions in batches; offsets are committed to the consumer group
    only once a checkpoint covering them is saved."""

    def __init__(self, config: KafkaSourceConfig, context: SourceContext) -> None:
        self.config, self.context = config, context
        self.who = f"source `{context.name}` (topic {config.topic})"
        self.outage = Outage(self.who, config.brokers, context.clock, config.retry_timeout / 1000)
        self.refused: str | None = None  # what the broker refused for good, from a callback
        self.consumer: Any = None
        self.partitions: list[int] = []
        self.next: dict[int, int] = {}  # partition -> next offset to deliver
        self.at_end: set[int] = set()  # partitions read to their end (the broker said so)

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
                "on_commit": self._committed,
                "error_cb": self._broker_error,  # at once, where `consume` tells late if at all
            }
        )
        try:
            topics = await anyio.to_thread.run_sync(
                lambda: self.consumer.list_topics(self.config.topic, timeout=REQUEST_TIMEOUT_S)
            )
            worker, workers = self.context.worker, self.context.workers
            self.partitions = sorted(p for p in self._found(topics) if p % workers == worker)
            committed = await anyio.to_thread.run_sync(
                lambda: self.consumer.committed(
                    [self._partition(p, OFFSET_INVALID) for p in self.partitions],
                    timeout=REQUEST_TIMEOUT_S,
                )
            )
        except KafkaException as e:
            raise self.outage.unreachable(e) from e
        self.next = {tp.partition: max(tp.offset, 0) for tp in committed}
        self._assign()

    def _found(self, topics: Any) -> list[int]:
        """The topic's partitions in the broker's metadata; a ConnectorError when it has none."""
        found = topics.topics.get(self.config.topic)
        if found is None or found.error is not None or not found.partitions:
            raise ConnectorError(f"{self.who}: the topic does not exist at {self.config.brokers}")
        return list(found.partitions)

    def _assign(self) -> None:
        self.consumer.assign([self._partition(p, self.next.get(p, 0)) for p in self.partitions])

    def position(self) -> dict:
        return {str(p): offset for p, offset in self.next.items()}

    def seek(self, position: dict) -> None:
        self.next.update({int(p): offset for p, offset in position.items()})
        self.at_end.clear()
        if self.consumer is not None:
            self._assign()

    async def commit(self, position: dict) -> None:
        """Sent, not waited for: `_committed` hears the answer, `aclose` waits for the last;
        a commit lost while the broker is away is made good by the next checkpoint's."""
        offsets = [self._partition(int(p), offset) for p, offset in position.items()]
        if offsets:
            self.consumer.commit(offsets=offsets, asynchronous=True)

    def _broker_error(self, error: Any) -> None:
        if error.fatal():
            self.refused = f"{self.who}: {reason(error)}"
        else:
            self.outage.lost(reason(error))

    def _committed(self, error: Any, partitions: list[Any]) -> None:
        failure = error or next((tp.error for tp in partitions if tp.error is not None), None)
        if failure is None:
            return
        if failure.fatal() or failure.code() in _permanent():
            self.refused = f"{self.who}: committing offsets to group `{self.config.group}`: " + (
                reason(failure)
            )
        else:
            self.outage.lost(f"committing offsets: {reason(failure)}")

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
        while True:
            if self.refused is not None:
                raise ConnectorError(self.refused)
            if self.outage.due():
                await self._try_broker()
            messages = self.consumer.consume(num_messages=self.context.batch_size, timeout=0)
            batch = self._batch(messages)
            if batch.records or batch.bad:
                return batch
            if self.config.until_empty and self.at_end >= set(self.partitions):
                return None
            if clock.monotonic_s() >= deadline:
                return SourceBatch([], [])  # nothing came: give the runtime its turn
            await clock.sleep(POLL_S)

    async def _try_broker(self) -> None:
        """While the broker is away: ask it for the topic, to know when it is back."""
        from confluent_kafka import KafkaException

        try:
            topics = await anyio.to_thread.run_sync(
                lambda: self.consumer.list_topics(self.config.topic, timeout=TRY_S)
            )
        except KafkaException as e:
            self.outage.failed(reason(e))
            return
        self._found(topics)  # a broker that came back without the topic has lost it
        self.outage.back()

    def _batch(self, messages: list[Any]) -> SourceBatch:
        lines, ids = [], []
        for message in messages:
            error, partition = message.error(), message.partition()
            if error is not None:
                self._error(error, partition, message.offset())
                continue
            offset = message.offset()
            self.next[partition] = offset + 1
            self.at_end.discard(partition)
            lines.append(message.value() or b"")
            ids.append(f"{self.config.topic}/{partition}:{offset}")
        if ids:
            self.outage.back()
        if self.config.format == "lines":
            return SourceBatch(decode_lines(lines, ids), ids, self.config.topic)
        records, offsets, bad = decode_jsonl(lines, ids, self.context.schema)
        return SourceBatch(records, list(offsets), self.config.topic, bad)

    def _error(self, error: Any, partition: int | None, offset: int) -> None:
        from confluent_kafka import KafkaError

        if error.code() == KafkaError._PARTITION_EOF:
            self.outage.back()
            if partition is not None and offset >= self.next.get(partition, 0):
                self.at_end.add(partition)
        elif error.fatal() or error.code() in _permanent():
            raise ConnectorError(f"{self.who}: {reason(error)}")
        else:  # a lost connection, say: librdkafka reconnects and fetches again
            self.outage.lost(reason(error))

    async def aclose(self) -> None:
        if self.consumer is not None:
            consumer, self.consumer = self.consumer, None
            await anyio.to_thread.run_sync(consumer.close)


__all__ = ["KafkaSource", "KafkaSourceConfig", "plugin"]
