"""The ledger of a shuffle on Kafka: a one-partition topic beside the shuffle's records that
holds each producer's generations and which generation committed which epochs (what Redis keeps
in keys, `shufflebook.py`). One partition keeps it in one order: a producer writes the commits
of its old generation before its new generation, so a reader that has seen the new generation
has seen every commit the old one made.

Records are JSON: `{"p": producer, "gen": g}` (a producer started as generation g) and
`{"p": producer, "g": g, "from": a, "to": b}` (epochs a..b were written by generation g). The
first commit of an epoch is the one that counts; a later one for the same epoch is ignored.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import anyio
import msgspec

from rillet.runtime.plugin import Clock, ConnectorError

from .kafka import FETCH_WAIT_MS, QUIET, REQUEST_TIMEOUT_S

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(dict[str, int]).decode
TOPIC_CHARS = re.compile(r"[^A-Za-z0-9._-]")


def topic_name(prefix: str, edge: str = "") -> str:
    """A Kafka topic for `prefix` (`rillet:GROUP`) and a shuffle edge: `rillet.GROUP.EDGE`,
    with the characters Kafka does not allow in a name replaced by `_`."""
    name = prefix.replace(":", ".") + (f".{edge}" if edge else "")
    return TOPIC_CHARS.sub("_", name)


def consumer(brokers: str) -> Any:
    """A consumer of assigned partitions that reports the end of each (`enable.partition.eof`)
    and answers within milliseconds when the broker has nothing."""
    from confluent_kafka import Consumer

    return Consumer(
        {
            "bootstrap.servers": brokers,
            **QUIET,
            "group.id": "rillet-shuffle",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": FETCH_WAIT_MS,
        }
    )


async def ensure_topics(brokers: str, who: str, topics: dict[str, int]) -> None:
    """Create the topics (name -> partitions) that do not exist yet; stop when one exists with
    another number of partitions (an earlier run had another `--workers`)."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": brokers, **QUIET})
    try:
        found = await anyio.to_thread.run_sync(
            lambda: admin.list_topics(timeout=REQUEST_TIMEOUT_S).topics
        )
        for name, count in topics.items():
            if name in found and len(found[name].partitions) != count:
                raise ConnectorError(
                    f"{who}: topic {name} has {len(found[name].partitions)} partitions, not "
                    f"{count}: an earlier run had another --workers\n"
                    "  hint: rerun with --fresh to clear the shuffles and start over"
                )
        new = [NewTopic(n, c, -1) for n, c in topics.items() if n not in found]
        for future in admin.create_topics(new).values() if new else ():
            try:
                await anyio.to_thread.run_sync(future.result, REQUEST_TIMEOUT_S)
            except KafkaException as e:  # another worker made it first
                if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
    except KafkaException as e:
        raise ConnectorError(f"{who}: cannot reach the broker at {brokers}: {e}") from e


class Ledger:
    """What one reader or producer has read of a shuffle's ledger topic."""

    def __init__(self, brokers: str, topic: str, who: str, clock: Clock) -> None:
        self.brokers, self.topic, self.who, self.clock = brokers, topic, who, clock
        self.generations: dict[int, int] = {}
        self.commits: dict[int, dict[int, int]] = defaultdict(dict)  # producer: epoch -> gen
        self.consumer: Any = None

    async def open(self) -> None:
        """Read the ledger from its start to its end: everything written before this call.
        (A partition's end is reported once per arrival there, so only a new consumer can
        wait for it; later reads `poll`.)"""
        from confluent_kafka import TopicPartition

        self.consumer = consumer(self.brokers)
        self.consumer.assign([TopicPartition(self.topic, 0, 0)])
        deadline = self.clock.monotonic_s() + REQUEST_TIMEOUT_S
        while not self.poll():
            if self.clock.monotonic_s() > deadline:
                raise ConnectorError(
                    f"{self.who}: cannot read the shuffle's ledger {self.topic} from the "
                    f"broker at {self.brokers}"
                )
            await self.clock.sleep(0.005)

    def committed(self, producer: int, epoch: int) -> int | None:
        return self.commits[producer].get(epoch)

    def generation(self, producer: int) -> int:
        return self.generations.get(producer, 0)

    def recorded(self, producer: int) -> int:
        """The last epoch of `producer` whose generation is recorded."""
        return max(self.commits[producer], default=0)

    def poll(self) -> bool:
        """Take what has arrived, without waiting; whether the end was reached."""
        from confluent_kafka import KafkaError

        at_end = False
        for message in self.consumer.consume(1000, timeout=0):
            error = message.error()
            if error is None:
                self._apply(_decode(message.value()))
            elif error.code() == KafkaError._PARTITION_EOF:
                at_end = True
            elif error.fatal():
                raise ConnectorError(f"{self.who}: {error}")
        return at_end

    def _apply(self, entry: dict[str, int]) -> None:
        producer = entry["p"]
        if "gen" in entry:
            self.generations[producer] = max(self.generation(producer), entry["gen"])
            return
        commits = self.commits[producer]
        for epoch in range(entry["from"], entry["to"] + 1):
            commits.setdefault(epoch, entry["g"])

    def close(self) -> None:
        if self.consumer is not None:
            consumer, self.consumer = self.consumer, None
            consumer.close()


def generation_entry(producer: int, generation: int) -> bytes:
    return _encode({"p": producer, "gen": generation})


def commit_entry(producer: int, generation: int, epochs: range) -> bytes:
    return _encode({"p": producer, "g": generation, "from": epochs[0], "to": epochs[-1]})


__all__ = [
    "Ledger",
    "commit_entry",
    "consumer",
    "ensure_topics",
    "generation_entry",
    "topic_name",
]
