"""The `kafka` connectors (stdlib/kafka.py, kafkasink.py) against a real Kafka-protocol broker
(Tansu, started by tests/servers.py): the source contract of _source.py, partitions shared out
between workers, offsets committed to the group, bad messages reported with their offset, and
the sink's records read back in order per key."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from rillet.runtime.capability import Parted
from rillet.runtime.clock import SystemClock
from rillet.runtime.connector import SinkContext
from rillet.stdlib.kafkasink import KafkaSink, KafkaSinkConfig
from tests.servers import KAFKA, ensure
from tests.stdlib._source import SourceContract, build


def make_topic(partitions: int = 1) -> str:
    ensure(KAFKA)
    name = f"rillet-test-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": KAFKA.url})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(timeout=30)
    return name


def produce(topic: str, values: list[bytes], partition: int | None = None) -> None:
    producer = Producer({"bootstrap.servers": KAFKA.url})
    for value in values:
        if partition is None:
            producer.produce(topic, value)
        else:
            producer.produce(topic, value, partition=partition)
    assert producer.flush(30) == 0


def read_all(topic: str, partitions: int = 1) -> list[tuple[int, bytes | None, Any]]:
    consumer = Consumer({"bootstrap.servers": KAFKA.url, "group.id": f"check-{topic}"})
    ends = [
        consumer.get_watermark_offsets(TopicPartition(topic, p, 0))[1] for p in range(partitions)
    ]
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    got: list[tuple[int, bytes | None, Any]] = []
    while len(got) < sum(ends):
        for message in consumer.consume(1000, 1.0):
            assert message.error() is None
            got.append((message.partition(), message.key(), json.loads(message.value())))
    consumer.close()
    return got


def source(topic: str, group: str, **context: Any) -> Any:
    config = {"brokers": KAFKA.url, "topic": topic, "group": group, "until_empty": True}
    return build("kafka", config, **context)


async def drain(connector: Any) -> list[dict]:
    await connector.open()
    out: list[dict] = []
    while (batch := await connector.read_batch()) is not None:
        out += batch.records
    return out


class TopicInput:
    name, bounded, group = "kafka", True, True

    def __init__(self) -> None:
        self.topic, self.group_id = make_topic(), f"g-{uuid.uuid4().hex[:8]}"

    def fill(self, records: list[dict]) -> None:
        produce(self.topic, [json.dumps(r).encode() for r in records])

    def source(self) -> Any:
        return source(self.topic, self.group_id)


class TestKafkaSourceContract(SourceContract):
    @pytest.fixture
    def input(self) -> TopicInput:
        return TopicInput()


def test_workers_share_the_partitions_and_each_keeps_partition_order() -> None:
    topic = make_topic(partitions=4)
    for partition in range(4):
        produce(
            topic, [json.dumps({"p": partition, "i": i}).encode() for i in range(50)], partition
        )
    group = f"g-{uuid.uuid4().hex[:8]}"
    shares = [anyio.run(drain, source(topic, group, worker=w, workers=2)) for w in range(2)]
    assert sorted({r["p"] for r in shares[0]}) == [0, 2]
    assert sorted({r["p"] for r in shares[1]}) == [1, 3]
    for share in shares:
        for partition in {r["p"] for r in share}:
            assert [r["i"] for r in share if r["p"] == partition] == list(range(50))


def test_each_batch_is_one_partition_in_order_and_names_it() -> None:
    """Partitions are the source's parts (`Parted`): the event time of each is kept apart."""
    topic = make_topic(partitions=3)
    for partition in range(3):
        produce(
            topic, [json.dumps({"p": partition, "i": i}).encode() for i in range(400)], partition
        )
    connector = source(topic, f"g-{uuid.uuid4().hex[:8]}")

    async def body() -> list[Any]:
        await connector.open()
        batches = []
        while (batch := await connector.read_batch()) is not None:
            batches += [batch] if batch.records else []
        await connector.aclose()
        return batches

    batches = anyio.run(body)
    assert isinstance(connector, Parted) and connector.parts() == ("0", "1", "2")
    for batch in batches:
        assert {str(r["p"]) for r in batch.records} == {batch.part}
        assert batch.offsets == [f"{topic}/{batch.part}:{r['i']}" for r in batch.records]
    for partition in range(3):
        mine = [r["i"] for b in batches if b.part == str(partition) for r in b.records]
        assert mine == list(range(400))
    assert len(batches) <= 1200 / 10, "batches of many messages, not one each"


def test_a_message_that_is_not_json_is_a_bad_record_with_its_offset() -> None:
    topic = make_topic()
    produce(topic, [b'{"n": 1}', b"not json", b'{"n": 3}'])

    async def body() -> tuple[list[dict], list[Any]]:
        connector = source(topic, "g")
        await connector.open()
        records, bad = [], []
        while (batch := await connector.read_batch()) is not None:
            records += batch.records
            bad += batch.bad
        await connector.aclose()
        return records, bad

    records, bad = anyio.run(body)
    assert records == [{"n": 1}, {"n": 3}]
    assert [b.offset for b in bad] == [f"{topic}/0:1"]


def test_a_missing_topic_or_broker_is_one_clear_error() -> None:
    from rillet.runtime.connector import ConnectorError

    ensure(KAFKA)
    connector = build("kafka", {"brokers": KAFKA.url, "topic": "no-such-topic-here"})
    with pytest.raises(ConnectorError, match="no-such-topic-here.*does not exist"):
        anyio.run(connector.open)
    anyio.run(connector.aclose)


def test_the_sink_writes_json_keyed_by_a_field_in_order_per_key() -> None:
    topic = make_topic(partitions=3)
    config = KafkaSinkConfig(KAFKA.url, topic, key="user")
    sink = KafkaSink(config, SinkContext("out", Path("."), clock=SystemClock()))
    records = [{"user": f"u{i % 5}", "i": i} for i in range(200)]

    async def body() -> None:
        await sink.open()
        await sink.write(records[:120])
        await sink.write(records[120:])
        await sink.precommit()
        await sink.aclose()

    anyio.run(body)
    got = read_all(topic, 3)
    assert sorted(r["i"] for _, _, r in got) == list(range(200))
    for user in {r["user"] for r in records}:
        mine = [(p, r["i"]) for p, key, r in got if key == user.encode()]
        assert len({p for p, _ in mine}) == 1, "one key, one partition"
        assert [i for _, i in mine] == [r["i"] for r in records if r["user"] == user]


def test_lines_format_reads_each_message_as_its_text() -> None:
    topic = make_topic()
    produce(topic, [b"first line", "zweite Zeile \u00e4".encode(), b"not json {"])
    config = {"brokers": KAFKA.url, "topic": topic, "format": "lines", "until_empty": True}
    assert anyio.run(drain, build("kafka", config)) == [
        {"line": "first line"},
        {"line": "zweite Zeile \u00e4"},
        {"line": "not json {"},
    ]
