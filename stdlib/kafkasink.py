"""The `kafka` sink: an idempotent, compressed, batching producer (librdkafka through
confluent-kafka); each record a JSON document, keyed by a field when `key` names one, so one
key's records stay in one partition, in order. At-least-once: each checkpoint waits until the
broker has every message written before it (`precommit`), and a crash after a write but before
the checkpoint writes those messages again.

A broker that goes away mid-run (`kafkaoutage.py`): librdkafka keeps the messages and sends them
again, with backoff, once it is back; each message is given `retry_timeout` to be taken, after
which the run stops with one line naming the broker."""

from __future__ import annotations

from typing import Any

import anyio
import msgspec

from rillet.runtime.plugin import ConnectorError, Flushing, Plugin, SinkContext

from .extras import KAFKA
from .kafka import QUIET, REQUEST_TIMEOUT_S
from .kafkaoutage import Outage, reason

plugin = Plugin("std")
_encode = msgspec.json.Encoder().encode


class KafkaSinkConfig(msgspec.Struct, forbid_unknown_fields=True):
    brokers: str
    topic: str
    key: str | None = None
    """A field whose value keys each message (its partition); none spreads them."""
    retry_timeout: int = 60_000
    """How long a message waits for a broker that went away to take it (ms)."""


@plugin.sink("kafka", config=KafkaSinkConfig, delivery="at-least-once", needs=KAFKA)
class KafkaSink(Flushing):
    """Writes each record to a Kafka topic as a JSON document, keyed by `key` when given;
    idempotent and compressed, confirmed by the broker at every checkpoint."""

    def __init__(self, config: KafkaSinkConfig, context: SinkContext) -> None:
        self.config, self.context = config, context
        self.who = f"sink `{context.name}` (topic {config.topic})"
        self.retry_timeout_s = config.retry_timeout / 1000
        self.outage = Outage(self.who, config.brokers, context.clock, self.retry_timeout_s)
        self.producer: Any = None
        self.failed: str | None = None  # the first delivery the broker refused

    async def open(self) -> None:
        from confluent_kafka import KafkaException, Producer

        self.producer = Producer(
            {
                "bootstrap.servers": self.config.brokers,
                **QUIET,
                "enable.idempotence": True,
                "compression.type": "lz4",
                "linger.ms": 5,
                "message.timeout.ms": self.config.retry_timeout,
                "error_cb": self._error,
            }
        )
        try:  # a broker that is not there is one line now, not a checkpoint that never ends
            await anyio.to_thread.run_sync(
                lambda: self.producer.list_topics(self.config.topic, timeout=REQUEST_TIMEOUT_S)
            )
        except KafkaException as e:
            raise self.outage.unreachable(e) from e

    def _error(self, error: Any) -> None:
        if not error.fatal():  # librdkafka reconnects and sends again by itself
            self.outage.lost(reason(error))
        elif self.failed is None:
            self.failed = f"{self.who}: {reason(error)}"

    def _delivered(self, error: Any, _message: Any) -> None:
        if error is None:
            self.outage.back()
        elif self.failed is None:
            from confluent_kafka import KafkaError

            timed_out = error.code() == KafkaError._MSG_TIMED_OUT
            self.failed = (
                self.outage.gone().args[0] if timed_out else f"{self.who}: {reason(error)}"
            )

    async def write(self, records: list[dict]) -> None:
        self._check()
        topic, key, produce = self.config.topic, self.config.key, self.producer.produce
        for record in records:
            value = _encode(record)
            keyed = None if key is None or record.get(key) is None else str(record[key]).encode()
            while True:
                try:
                    produce(topic, value, key=keyed, on_delivery=self._delivered)
                    break
                except BufferError:  # the producer's queue is full: let it send, then go on
                    self.producer.poll(0)
                    self._check()  # a broker away for good fails what the queue holds
                    await self.context.clock.sleep(0.001)
        self.producer.poll(0)

    async def precommit(self) -> None:
        """Wait until the broker has taken every message, or each has failed: within
        `retry_timeout` (`message.timeout.ms`)."""
        left = await anyio.to_thread.run_sync(lambda: self.producer.flush(self._flush_s))
        self._check()
        if left:
            raise self.outage.gone()

    @property
    def _flush_s(self) -> float:
        return self.retry_timeout_s + REQUEST_TIMEOUT_S  # beyond it, librdkafka has failed them

    def _check(self) -> None:
        if self.failed is not None:
            raise ConnectorError(self.failed)

    async def aclose(self) -> None:
        if self.producer is not None:
            producer, self.producer = self.producer, None
            await anyio.to_thread.run_sync(lambda: producer.flush(self._flush_s))


__all__ = ["KafkaSink", "KafkaSinkConfig", "plugin"]
