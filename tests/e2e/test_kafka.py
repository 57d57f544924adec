"""`rillet run` with Kafka at both ends, against the real broker: a file loaded into a topic by
the `kafka` sink, then read back by the `kafka` source into a windowed count; a rerun after
more messages arrived counts only those (the first run's offsets were committed to the group),
and the counts are those of one run over everything."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from rillet.stdlib.generate import START_MS, click_events
from tests.conftest import rillet
from tests.e2e.test_crash import run_to_completion, run_with_kills
from tests.e2e.test_scaleout import rows, run_workers_with_kills
from tests.servers import KAFKA, REDIS, ensure
from tests.stdlib.test_kafka import make_topic, produce

LOAD = """source events = file("events.jsonl")
sink topic = kafka("{brokers}", "{topic}", key="user")
events | into topic
"""

COUNT = """source events = kafka("{brokers}", "{topic}", group="counts", until_empty=true)
sink out = file("out.jsonl")
events | select user, n | into out
"""


def test_a_topic_loaded_from_a_file_is_read_back_and_a_rerun_reads_only_what_is_new(
    tmp_path: Path,
) -> None:
    topic = make_topic(partitions=3)
    events = [{"user": f"u{i % 7}", "n": i} for i in range(1000)]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (tmp_path / "load.rill").write_text(LOAD.format(brokers=KAFKA.url, topic=topic))
    (tmp_path / "count.rill").write_text(COUNT.format(brokers=KAFKA.url, topic=topic))
    loaded = rillet("run", "-q", "load.rill", cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr.decode()

    first = rillet("run", "-q", "count.rill", cwd=tmp_path)
    assert first.returncode == 0, first.stderr.decode()
    out = tmp_path / "out.jsonl"
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["n"] for r in got) == list(range(1000))
    for user in {e["user"] for e in events}:  # one key, one partition: in order
        mine = [r["n"] for r in got if r["user"] == user]
        assert mine == sorted(mine)

    produce(topic, [json.dumps({"user": "late", "n": 1000 + i}).encode() for i in range(5)])
    second = rillet("run", "-q", "count.rill", cwd=tmp_path)
    assert second.returncode == 0, second.stderr.decode()
    again = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["n"] for r in again) == list(range(1005)), "nothing lost, nothing twice"


WINDOWED = """set batch_size = 200
set checkpoint_interval = 50ms
schema Click {{ ts: int, user: int, page: str, status: int, latency_ms: float }}
source clicks: Click = kafka("{brokers}", "{topic}", group="{group}", until_empty=true)
sink out = file("out/out.jsonl")
clicks | event_time ts lateness 2s | window tumbling 1s
  | aggregate by page {{ n = count(), total = sum(latency_ms) }} | into out
"""


@pytest.mark.timeout(600)
def test_a_run_killed_again_and_again_writes_what_one_uninterrupted_run_writes(
    tmp_path: Path,
) -> None:
    """The crash harness of test_crash.py over a topic: every kill lands after a checkpoint of
    the run's own. One partition, so both runs see one order: over several, the order the
    partitions interleave in moves the watermark, and with it which records are late."""
    topic = make_topic()
    events = click_events(random.Random(7), 0, 100_000, START_MS, 1.0)
    producer = Producer({"bootstrap.servers": KAFKA.url, "linger.ms": 5})
    for event in events:
        producer.produce(topic, json.dumps(event).encode())
    assert producer.flush(60) == 0
    folders, groups = {}, {}
    for kind in ("reference", "crashed"):
        folder = folders[kind] = tmp_path / kind
        folder.mkdir()
        group = groups[kind] = f"{kind}-{uuid.uuid4().hex[:8]}"
        text = WINDOWED.format(brokers=KAFKA.url, topic=topic, group=group)
        (folder / "p.rill").write_text(text)
    run_to_completion(folders["reference"])
    kills = run_with_kills(folders["crashed"], random.Random(3), 6)
    assert kills >= 3
    want = (folders["reference"] / "out" / "out.jsonl").read_text().splitlines()
    got = (folders["crashed"] / "out" / "out.jsonl").read_text().splitlines()
    assert sorted(got) == sorted(want), "nothing lost, nothing twice"
    group = Consumer({"bootstrap.servers": KAFKA.url, "group.id": groups["crashed"]})
    (committed,) = group.committed([TopicPartition(topic, 0)], timeout=10)
    group.close()
    assert committed.offset == len(events), "the group's offsets reach the end of the topic"


SCALED = """set batch_size = 200
set checkpoint_interval = 100ms
schema Click {{ ts: int, user: int, page: str, status: int, latency_ms: float }}
source clicks: Click = {source}
sink out = file("{out}")
clicks | event_time ts lateness 1h | window tumbling 1s
  | aggregate by user {{ n = count(), total = sum(latency_ms) }} | into out
"""
"""A lateness no record reaches: the order partitions interleave in, which differs from run
to run and worker to worker, then moves no record across the watermark."""


@pytest.mark.timeout(600)
def test_two_workers_share_the_partitions_and_killed_at_random_equal_one_process(
    tmp_path: Path,
) -> None:
    topic = make_topic(partitions=4)
    events = click_events(random.Random(5), 0, 120_000, START_MS, 1.0)
    producer = Producer({"bootstrap.servers": KAFKA.url, "linger.ms": 5})
    for i, event in enumerate(events):
        producer.produce(topic, json.dumps(event).encode(), key=str(event["user"]).encode())
        if i % 50_000 == 0:
            producer.flush(60)  # the producer's queue holds 100,000 messages
    assert producer.flush(60) == 0
    (tmp_path / "clicks.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (tmp_path / "ref.rill").write_text(
        SCALED.format(source='file("clicks.jsonl")', out="ref.jsonl")
    )
    source = f'kafka("{KAFKA.url}", "{topic}", group="g", until_empty=true)'
    (tmp_path / "p.rill").write_text(SCALED.format(source=source, out="out/out.jsonl"))
    reference = rillet("run", "-q", "ref.rill", cwd=tmp_path, timeout=300)
    assert reference.returncode == 0, reference.stderr.decode()
    ensure(REDIS)  # the shuffle between the workers
    run_workers_with_kills(tmp_path, "p.rill", kills=4)
    outputs = sorted((tmp_path / "out").glob("out*.jsonl"))
    assert rows(outputs) == rows([tmp_path / "ref.jsonl"])


QUIET = """set checkpoint_interval = 200ms
schema Click {{ ts: int, user: int }}
source clicks: Click = kafka("{brokers}", "{topic}", group="g")
sink out = file("out/out.jsonl")
clicks | event_time ts idle 1s | window tumbling 1s
  | aggregate by user {{ n = count() }} | into out
"""


@pytest.mark.timeout(300)
def test_a_worker_whose_partition_is_quiet_holds_back_no_window(tmp_path: Path) -> None:
    """Two workers follow a live topic whose second partition never gets a message: worker 1
    reads nothing, goes idle, and says so through the shuffle, so the windows the first
    partition's events close are written by both workers (without `idle` crossing the shuffle,
    none would ever be)."""
    topic = make_topic(partitions=2)
    events = [{"ts": t * 100, "user": t % 4} for t in range(100)] + [{"ts": 20_000, "user": 0}]
    producer = Producer({"bootstrap.servers": KAFKA.url})
    for event in events:
        producer.produce(topic, json.dumps(event).encode(), partition=0)
    assert producer.flush(30) == 0
    (tmp_path / "p.rill").write_text(QUIET.format(brokers=KAFKA.url, topic=topic))
    ensure(REDIS)
    group = f"quiet-{uuid.uuid4().hex[:8]}"
    command = [sys.executable, "-m", "rillet.dsl.cli", "run", "p.rill", "--workers", "2"]
    command += ["--broker", REDIS.url, "--group", group, "-q"]
    want = {(w, u) for w in range(10) for u in range(4)}  # the windows the 20 s event closes
    supervisor = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE)
    try:
        deadline, got = time.monotonic() + 120, set()
        while got != want and time.monotonic() < deadline and supervisor.poll() is None:
            time.sleep(0.2)  # a live run: its output is looked at, as a user would
            got = {
                (row["window_start"] // 1000, row["user"])
                for path in (tmp_path / "out").glob("out*.jsonl")
                for row in map(json.loads, path.read_text().splitlines())
            }
    finally:
        supervisor.send_signal(signal.SIGINT)
        _, err = supervisor.communicate(timeout=60)
    assert got == want, err.decode()
