"""The `kafka` source's message metadata (`metadata=true`: key, partition, offset and timestamp
as fields) and where it starts a partition without a committed offset (`from=`), against the
real broker (Tansu, whose offset queries answer roughly: the source must start right anyway)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import anyio

from rillet.runtime.plan import FieldSpec, SchemaSpec, TypeSpec
from rillet.runtime.schema import Schema
from tests.servers import KAFKA
from tests.stdlib._source import build
from tests.stdlib.test_kafka import drain, make_topic

DAY_MS = 1_796_083_200_000  # 2026-12-01T00:00:00Z


def produce(topic: str, messages: list[tuple[int, dict | bytes, bytes | None, int]]) -> None:
    """(partition, value, key, timestamp) each; flushed together, so that Tansu stores them in
    one batch (the batch its latest offset points at the start of)."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": KAFKA.url, "linger.ms": 50})
    for partition, value, key, stamp in messages:
        data = value if isinstance(value, bytes) else json.dumps(value).encode()
        producer.produce(topic, data, key=key, partition=partition, timestamp=stamp)
    assert producer.flush(30) == 0


def source(topic: str, group: str | None = None, **config: Any) -> Any:
    group = group or f"g-{uuid.uuid4().hex[:8]}"
    schema = config.pop("schema", None)
    settings = {"brokers": KAFKA.url, "topic": topic, "group": group, "until_empty": True}
    return build("kafka", {**settings, **config}, schema=schema)


def numbers(records: list[dict]) -> list[int]:
    return sorted(r["n"] for r in records)


def test_metadata_adds_each_messages_key_partition_offset_and_timestamp() -> None:
    topic = make_topic(partitions=2)
    produce(
        topic,
        [
            (0, {"n": 1}, b"alice", DAY_MS),
            (0, b"not json", None, DAY_MS + 1),
            (0, {"n": 2}, None, DAY_MS + 2),
            (1, {"n": 3}, "b\u00e9".encode(), DAY_MS + 3),
        ],
    )
    got = anyio.run(drain, source(topic, metadata=True))
    assert sorted(got, key=lambda r: r["n"]) == [
        {"n": 1, "kafka_key": "alice", "kafka_partition": 0, "kafka_offset": 0,
         "kafka_timestamp": DAY_MS},
        {"n": 2, "kafka_key": None, "kafka_partition": 0, "kafka_offset": 2,
         "kafka_timestamp": DAY_MS + 2},
        {"n": 3, "kafka_key": "b\u00e9", "kafka_partition": 1, "kafka_offset": 0,
         "kafka_timestamp": DAY_MS + 3},
    ]  # fmt: skip


def test_metadata_is_added_after_a_schema_and_to_lines() -> None:
    topic = make_topic()
    produce(topic, [(0, {"n": 1, "extra": "dropped"}, b"k", DAY_MS)])
    schema = Schema(SchemaSpec("N", (FieldSpec("n", TypeSpec("int")),)))
    fields = {"kafka_key": "k", "kafka_partition": 0, "kafka_offset": 0, "kafka_timestamp": DAY_MS}
    typed = anyio.run(drain, source(topic, metadata=True, schema=schema))
    assert typed == [{"n": 1, **fields}]
    lines = anyio.run(drain, source(topic, metadata=True, format="lines"))
    assert lines == [{"line": '{"n": 1, "extra": "dropped"}', **fields}]
    assert anyio.run(drain, source(topic)) == [{"n": 1, "extra": "dropped"}], "opt-in"


def test_from_latest_reads_only_what_arrives_after_the_start() -> None:
    topic = make_topic(partitions=2)
    produce(topic, [(0, {"n": i}, None, DAY_MS) for i in range(3)])
    produce(topic, [(0, {"n": i}, None, DAY_MS) for i in range(3, 8)])  # a last batch of 5

    async def body() -> list[dict]:
        connector = source(topic, **{"from": "latest"})
        await connector.open()
        produce(topic, [(p, {"n": 100 + p}, None, DAY_MS) for p in (0, 1)])
        return await drain_opened(connector)

    assert numbers(anyio.run(body)) == [100, 101]


def test_from_a_time_starts_each_partition_at_its_first_message_at_or_after_it() -> None:
    topic = make_topic(partitions=3)
    produce(
        topic,
        [(0, {"n": i}, None, DAY_MS + i * 1000) for i in range(10)]
        + [(0, {"n": 10}, None, DAY_MS)]  # stamped earlier, but after the start: read
        + [(1, {"n": 20}, None, DAY_MS - 1), (1, {"n": 21}, None, DAY_MS + 9000)]
        + [(2, {"n": 30}, None, DAY_MS)],  # nothing at or after the time: starts at its end
    )
    start = "2026-12-01T00:00:05.5Z"
    assert numbers(anyio.run(drain, source(topic, **{"from": start}))) == [6, 7, 8, 9, 10, 21]
    later = "2026-12-02T00:00:00"  # no zone: UTC
    assert anyio.run(drain, source(topic, **{"from": later})) == []


def test_a_committed_offset_wins_over_from_and_from_covers_the_other_partitions() -> None:
    topic = make_topic(partitions=2)
    group = f"g-{uuid.uuid4().hex[:8]}"
    produce(topic, [(p, {"n": p * 10 + i}, None, DAY_MS) for p in (0, 1) for i in range(3)])

    async def first() -> None:
        connector = source(topic, group)
        await drain(connector)
        await connector.commit({"0": 3})  # partition 1 has no committed offset
        await connector.aclose()

    anyio.run(first)
    produce(topic, [(0, {"n": 3}, None, DAY_MS)])

    async def second() -> list[dict]:
        connector = source(topic, group, **{"from": "latest"})
        await connector.open()
        produce(topic, [(1, {"n": 13}, None, DAY_MS)])
        return await drain_opened(connector)

    assert numbers(anyio.run(second)) == [3, 13]


def test_a_checkpoint_wins_over_from() -> None:
    topic = make_topic()
    produce(topic, [(0, {"n": i}, None, DAY_MS + i) for i in range(5)])

    async def body() -> list[dict]:
        connector = source(topic, **{"from": "2026-12-01T00:00:00.004Z"})
        await connector.open()
        connector.seek({"0": 2})
        return await drain_opened(connector)

    assert numbers(anyio.run(body)) == [2, 3, 4]


async def drain_opened(connector: Any) -> list[dict]:
    out: list[dict] = []
    try:
        while (batch := await connector.read_batch()) is not None:
            out += batch.records
    finally:
        await connector.aclose()
    return out
