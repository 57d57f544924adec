"""Which Kafka client rillet's `kafka` connector is built on, by measurement: each client
produces N JSON events to a topic of 4 partitions, then reads them all back as one consumer
group member, against the same broker, in the same run. Prints events/s for each, and how long
the consumer took from subscribing to its first event (joining the group).

    python bench/kafka_clients.py [N] [BROKER]   (default 200000, 127.0.0.1:19092)

Needs `pip install confluent-kafka aiokafka` and a broker (`bash scripts/services.sh start
kafka` starts the test one)."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid

EVENT = b'{"ts":1767225600000,"user":1234,"page":"/page/12","status":200,"latency_ms":123.4}'
PARTITIONS = 4


def confluent(n: int, broker: str, assign: bool = False) -> tuple[float, float, float]:
    """With `assign`, the consumer takes the partitions itself (as rillet's source does: each
    worker its own share) and uses the group only to commit offsets: no group rebalance."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"bench-confluent-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": broker})  # kept: the future needs its handle
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result()
    producer = Producer(
        {"bootstrap.servers": broker, "linger.ms": 5, "compression.type": "lz4", "acks": "all"}
    )
    started = time.perf_counter()
    for i in range(n):
        while True:
            try:
                producer.produce(topic, EVENT, key=str(i % 1000).encode())
                break
            except BufferError:
                producer.poll(0.01)
    producer.flush()
    produced = time.perf_counter() - started
    consumer = Consumer(
        {
            "bootstrap.servers": broker,
            "group.id": topic,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    joining, read = time.perf_counter(), 0
    if assign:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    else:
        consumer.subscribe([topic])
    while not read:  # joining the group is not reading: the clock starts at the first event
        read = sum(m.error() is None for m in consumer.consume(num_messages=1000, timeout=1.0))
    started, first = time.perf_counter(), read
    joined = started - joining
    while read < n:
        for message in consumer.consume(num_messages=1000, timeout=1.0):
            if message.error() is None:
                read += 1
    consumed = time.perf_counter() - started
    consumer.close()
    return n / produced, (n - first) / consumed, joined


async def _aiokafka(n: int, broker: str) -> tuple[float, float, float]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topic = f"bench-aiokafka-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=broker)
    await admin.start()
    await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=broker, linger_ms=5, acks="all")
    await producer.start()
    started = time.perf_counter()
    batch = []
    for i in range(n):
        batch.append(await producer.send(topic, EVENT, key=str(i % 1000).encode()))
        if len(batch) >= 10_000:
            await asyncio.gather(*batch)
            batch.clear()
    await asyncio.gather(*batch)
    produced = time.perf_counter() - started
    await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=broker,
        group_id=topic,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    joining, read = time.perf_counter(), 0
    await consumer.start()
    while not read:  # joining the group is not reading: the clock starts at the first event
        batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
        read = sum(len(messages) for messages in batches.values())
    started, first = time.perf_counter(), read
    joined = started - joining
    while read < n:
        batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
        read += sum(len(messages) for messages in batches.values())
    consumed = time.perf_counter() - started
    await consumer.stop()
    return n / produced, (n - first) / consumed, joined


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    broker = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1:19092"
    print(f"{n:,} events, {PARTITIONS} partitions, broker {broker}")
    print(f"{'client':<16}{'produce/s':>14}{'consume/s':>14}{'first event s':>16}")
    for name, measure in (
        ("confluent-kafka", lambda: confluent(n, broker)),
        ("  assigned", lambda: confluent(n, broker, assign=True)),
        ("aiokafka", lambda: asyncio.run(_aiokafka(n, broker))),
    ):
        produce, consume, first = measure()
        print(f"{name:<16}{produce:>14,.0f}{consume:>14,.0f}{first:>16.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
