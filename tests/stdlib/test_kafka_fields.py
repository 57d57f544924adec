"""The `kafka` source's message metadata (`metadata=true`: key, partition, offset and timestamp
as fields), against the real broker."""

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
