"""Kafka's own read rate next to rillet reading the same topic: `python bench/kafka_w1.py
[--events N]`.

N click events (bench/gen.py's) are produced into a topic of 4 partitions on the test broker
(Tansu, tests/servers.py's, started when not answering); then confluent-kafka's raw
`consume(1000)` reads them all as one assigned consumer, and `rillet run bench/w1_kafka.rill`
(W1 from that topic) runs as one process and with `--workers 2` (each worker its two
partitions and its own file), as whole processes. One run each, on a shared machine: compare
ratios, not events/s. Which client rillet uses was chosen by bench/kafka_clients.py.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from broker import events, rate, rillet_run  # noqa: E402

from tests.servers import KAFKA, REDIS, ensure  # noqa: E402

PARTITIONS = 4


def fill(topic: str, lines: list[bytes]) -> None:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": KAFKA.url})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(timeout=30)
    producer = Producer({"bootstrap.servers": KAFKA.url, "linger.ms": 5, "log_level": 0})
    started = time.perf_counter()
    for i, line in enumerate(lines):
        while True:
            try:
                producer.produce(topic, line, partition=i % PARTITIONS)
                break
            except BufferError:
                producer.poll(0.01)
    producer.flush(120)
    print(f"{'kafka produce':<34}{rate(len(lines), time.perf_counter() - started)}")


def raw_consume(topic: str, n: int) -> float:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": KAFKA.url, "group.id": "raw", "log_level": 0})
    started, read = time.perf_counter(), 0
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    while read < n:
        read += sum(m.error() is None for m in consumer.consume(1000, 1.0))
    elapsed = time.perf_counter() - started
    consumer.close()
    print(f"{'kafka raw consume(1000)':<34}{rate(n, elapsed)}")
    return n / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    ensure(KAFKA)
    ensure(REDIS)  # `--workers` needs a broker for its shuffles (W1 has none)
    n, topic = args.events, f"bench-{uuid.uuid4().hex[:8]}"
    lines = events(n)
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    print(f"{n:,} events of ~{sum(map(len, lines[:1000])) // 1000} bytes, {PARTITIONS} partitions")
    fill(topic, lines)
    raw = raw_consume(topic, n)
    params = {"brokers": KAFKA.url, "topic": topic}
    one = rillet_run(HERE / "w1_kafka.rill", {**params, "group": "w1"}, n, "rillet W1", out)
    print(f"{'  of the raw read rate':<34}{one / raw:>12.2f}x")
    two = rillet_run(
        HERE / "w1_kafka.rill",
        {**params, "group": "w1x2", "output": "out/w1_kafka_x2.jsonl"},
        n,
        "  the same, --workers 2",
        out,
        "--workers",
        "2",
        "--broker",
        REDIS.url,
        "--group",
        f"bench-{topic}",
    )
    print(f"{'  scaling, 2 workers / 1':<34}{two / one:>12.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
