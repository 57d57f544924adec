"""The `kafka` sink: an idempotent, compressed, batching producer (librdkafka through
confluent-kafka); each record a JSON document, keyed by a field when `key` names one, so one
key's records stay in one partition, in order. At-least-once: each checkpoint waits until the
broker has every message written before it (`precommit`), and a crash after a write but before
the checkpoint writes those messages again."""

from __future__ import annotations

from typing import Any

import anyio
import msgspec

from rillet.runtime.plugin import ConnectorError, Flushing, Plugin, SinkContext

from .extras import KAFKA
from .kafka import QUIET

plugin = Plugin("std")
_encode = msgspec.json.Encoder().encode
FLUSH_TIMEOUT_S = 60.0
"""How long a checkpoint waits for the broker to take what was written before it gives up."""


class KafkaSinkConfig(msgspec.Struct, forbid_unknown_fields=True):
    brokers: str
    topic: str
    key: str | None = None
    """A field whose value keys each message (its partition); none spreads them."""


@plugin.sink("kafka", config=KafkaSinkConfig, delivery="at-least-once", needs=KAFKA)
class KafkaSink(Flushing):
    """Writes each record to a Kafka topic as a JSON document, keyed by `key` when given;
    idempotent and compressed, confirmed by the broker at every checkpoint."""

    def __init__(self, config: KafkaSinkConfig, context: SinkContext) -> None:
        self.config, self.context = config, context
        self.who = f"sink `{context.name}` (kafka {config.brokers}, topic {config.topic})"
        self.producer: Any = None
        self.failed: str | None = None  # the first delivery the broker refused

    async def open(self) -> None:
        from confluent_kafka import Producer

        self.producer = Producer(
            {
                "bootstrap.servers": self.config.brokers,
                **QUIET,
                "enable.idempotence": True,
                "compression.type": "lz4",
                "linger.ms": 5,
                "error_cb": self._error,
            }
        )

    def _error(self, error: Any) -> None:
        if error.fatal() and self.failed is None:
            self.failed = str(error)

    def _delivered(self, error: Any, _message: Any) -> None:
        if error is not None and self.failed is None:
            self.failed = str(error)

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
                    await self.context.clock.sleep(0.001)
        self.producer.poll(0)

    async def precommit(self) -> None:
        left = await anyio.to_thread.run_sync(lambda: self.producer.flush(FLUSH_TIMEOUT_S))
        if left:
            raise ConnectorError(
                f"{self.who}: the broker did not take {left} messages within {FLUSH_TIMEOUT_S:g}s"
            )
        self._check()

    def _check(self) -> None:
        if self.failed is not None:
            raise ConnectorError(f"{self.who}: {self.failed}")

    async def aclose(self) -> None:
        if self.producer is not None:
            producer, self.producer = self.producer, None
            await anyio.to_thread.run_sync(lambda: producer.flush(FLUSH_TIMEOUT_S))


__all__ = ["KafkaSink", "KafkaSinkConfig", "plugin"]
