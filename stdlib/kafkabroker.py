"""Kafka as the broker of a `--workers` run (`--broker kafka://HOST:PORT`): the shuffles between
workers on repartition topics (`kafkashuffle.py`) and the check that they fit the workers'
checkpoints (`shufflecheck.py`). Checkpoints stay in the state folder (`--state-dir`) or in
Redis (`--state-store redis://`): a Kafka topic is no place to look a checkpoint up."""

from __future__ import annotations

import anyio

from rillet.runtime.plugin import BrokerError, Clock, ConnectorError, Manifest, Plugin, SystemClock

from .extras import KAFKA
from .kafka import QUIET, REQUEST_TIMEOUT_S
from .kafkaledger import Ledger, topic_name
from .shufflecheck import mismatch

plugin = Plugin("std")


@plugin.broker("kafka", needs=KAFKA)
class KafkaBroker:
    """Kafka carries the records between workers, on one topic per shuffle."""

    shuffle = "kafka_shuffle"

    def __init__(self, url: str) -> None:
        self.url = url
        self.brokers = url.removeprefix("kafka://").rstrip("/")

    def checkpoint_store(self, key: str) -> None:
        raise BrokerError(
            f"Kafka ({self.url}) cannot keep checkpoints\n  hint: keep them in a folder "
            "all workers reach (--state-dir) or in Redis (--state-store redis://HOST:PORT)"
        )

    def _topics(self, prefix: str) -> list[str]:
        """The topics of the group `prefix` (`rillet:GROUP`): its shuffles and their ledgers."""
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.brokers, **QUIET})
        start = topic_name(prefix) + "."
        try:
            found = admin.list_topics(timeout=REQUEST_TIMEOUT_S).topics
        except KafkaException as e:
            raise ConnectorError(
                f"cannot reach the broker at {self.url}: {e}; start Kafka, or pass the right "
                "--broker URL"
            ) from e
        return [name for name in found if name.startswith(start)]

    async def clear(self, prefix: str, clock: Clock) -> int:
        """Delete the group's topics (`--fresh`): how many there were."""
        from confluent_kafka.admin import AdminClient

        topics = await anyio.to_thread.run_sync(self._topics, prefix)
        if topics:
            admin = AdminClient({"bootstrap.servers": self.brokers, **QUIET})
            for future in admin.delete_topics(topics).values():
                await anyio.to_thread.run_sync(future.result, REQUEST_TIMEOUT_S)
        return len(topics)

    def mismatch(
        self, group: str, edges: list[str], checkpoints: dict[int, Manifest | None]
    ) -> str | None:
        prefix = f"rillet:{group}"
        existing = set(self._topics(prefix))
        ledgers: dict[str, Ledger | None] = {}

        async def read(edge: str) -> Ledger | None:
            topic = f"{topic_name(prefix, edge)}.ledger"
            if topic not in existing:
                return None
            ledger = Ledger(self.brokers, topic, f"shuffle `{edge}`", SystemClock())
            try:
                await ledger.open()
            finally:
                ledger.close()
            return ledger

        for edge in edges:
            ledgers[edge] = anyio.run(read, edge)

        def ledger_of(edge: str, worker: int) -> tuple[int | None, dict[int, int]]:
            ledger = ledgers[edge]
            if ledger is None:
                return None, {}
            return ledger.generations.get(worker), dict(ledger.commits[worker])

        return mismatch(f"Kafka at {self.url}", ledger_of, group, edges, checkpoints)


__all__ = ["KafkaBroker", "plugin"]
