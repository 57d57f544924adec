"""`rillet run` with Kafka at both ends, against the real broker: a file loaded into a topic by
the `kafka` sink, then read back by the `kafka` source into a windowed count; a rerun after
more messages arrived counts only those (the first run's offsets were committed to the group),
and the counts are those of one run over everything; a partition behind the others holds the
watermark back instead of having its records made late."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from rillet.stdlib.generate import START_MS, click_events
from tests.conftest import rillet
from tests.e2e.test_crash import run_with_kills
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


def test_a_malformed_message_goes_to_the_error_sink_with_topic_partition_and_offset(
    tmp_path: Path,
) -> None:
    topic = make_topic(partitions=2)
    produce(topic, [b'{"n": 1}', b"{not json", b'{"n": 3}'], partition=1)
    (tmp_path / "p.rill").write_text(
        f'source s = kafka("{KAFKA.url}", "{topic}", until_empty=true)\n'
        'sink o = file("o.jsonl")\nsink rejects = file("rejects.jsonl")\n'
        "errors into rejects\ns | into o\n"
    )
    result = rillet("run", "-q", "p.rill", cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    written = (tmp_path / "o.jsonl").read_text().splitlines()
    assert [json.loads(line)["n"] for line in written] == [1, 3]
    (rejected,) = map(json.loads, (tmp_path / "rejects.jsonl").read_text().splitlines())
    assert rejected["offset"] == f"{topic}/1:1"
    assert (rejected["source"], rejected["raw"], rejected["operator"]) == (
        "s",
        "{not json",
        "source",
    )
    assert rejected["reason"].startswith("malformed JSON")


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
EVENTS = 200_000
PARTITIONS = 4


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """200k click events in a file, loaded by a pipeline (`file` into the `kafka` sink, keyed
    by user) into a topic of 4 partitions; and the windowed counts of one uninterrupted
    process over the file (`ref.jsonl`)."""
    folder = tmp_path_factory.mktemp("kafka-loaded")
    topic = make_topic(partitions=PARTITIONS)
    events = click_events(random.Random(5), 0, EVENTS, START_MS, 1.0)
    (folder / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (folder / "load.rill").write_text(LOAD.format(brokers=KAFKA.url, topic=topic))
    load = rillet("run", "-q", "load.rill", cwd=folder, timeout=300)
    assert load.returncode == 0, load.stderr.decode()
    (folder / "ref.rill").write_text(SCALED.format(source='file("events.jsonl")', out="ref.jsonl"))
    reference = rillet("run", "-q", "ref.rill", cwd=folder, timeout=300)
    assert reference.returncode == 0, reference.stderr.decode()
    return folder, topic


def offsets_reach_the_end(topic: str, group: str) -> None:
    consumer = Consumer({"bootstrap.servers": KAFKA.url, "group.id": group})
    partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    committed = consumer.committed(partitions, timeout=10)
    consumer.close()
    ends = [partition_end(topic, p) for p in range(PARTITIONS)]
    assert sum(ends) == EVENTS
    assert [tp.offset for tp in committed] == ends, "the offsets reach every partition's end"


def partition_end(topic: str, partition: int) -> int:
    """The offset after the last message of a partition: read to its end (Tansu's high
    watermark is not to be trusted)."""
    consumer = Consumer(
        {"bootstrap.servers": KAFKA.url, "group.id": "end", "enable.partition.eof": True}
    )
    consumer.assign([TopicPartition(topic, partition, 0)])
    end = 0
    try:
        while True:
            for message in consumer.consume(10_000, 1.0):
                if message.error() is None:
                    end = message.offset() + 1
                elif message.error().code() == KafkaError._PARTITION_EOF:
                    return end
    finally:
        consumer.close()


@pytest.mark.timeout(900)
def test_one_process_killed_again_and_again_writes_what_one_uninterrupted_run_writes(
    loaded: tuple[Path, str], tmp_path: Path
) -> None:
    """The crash harness of test_crash.py over the 4 partitions: every kill lands after a
    checkpoint of the run's own."""
    folder, topic = loaded
    group = f"crashed-{uuid.uuid4().hex[:8]}"
    source = f'kafka("{KAFKA.url}", "{topic}", group="{group}", until_empty=true)'
    text = SCALED.format(source=source, out="out/out.jsonl")
    # a kill lands after each restart's first checkpoint: often enough for 5 in a short run
    text = text.replace("checkpoint_interval = 100ms", "checkpoint_interval = 20ms")
    (tmp_path / "p.rill").write_text(text)
    assert run_with_kills(tmp_path, random.Random(3), 6) >= 5
    assert rows([tmp_path / "out" / "out.jsonl"]) == rows([folder / "ref.jsonl"])
    offsets_reach_the_end(topic, group)


@pytest.mark.timeout(900)
def test_two_workers_shuffling_on_kafka_killed_at_random_equal_one_process(
    loaded: tuple[Path, str], tmp_path: Path
) -> None:
    """The same topic read by `--workers 2` whose shuffle runs on Kafka topics (`--broker
    kafka://`), a worker SIGKILLed at random at least 5 times: the output is that of one
    uninterrupted process, and the group's offsets reach the end of every partition."""
    folder, topic = loaded
    group = f"workers-{uuid.uuid4().hex[:8]}"
    source = f'kafka("{KAFKA.url}", "{topic}", group="{group}", until_empty=true)'
    (tmp_path / "p.rill").write_text(SCALED.format(source=source, out="out/out.jsonl"))
    log = run_workers_with_kills(
        tmp_path, "p.rill", kills=6, every_s=(0.3, 0.8), broker=f"kafka://{KAFKA.url}"
    )
    assert log.count("restarting it from its last checkpoint") >= 5, log
    outputs = sorted((tmp_path / "out").glob("out*.jsonl"))
    assert rows(outputs) == rows([folder / "ref.jsonl"])
    offsets_reach_the_end(topic, group)


QUIET = """set checkpoint_interval = 200ms
schema Click {{ ts: int, user: int }}
source clicks: Click = kafka("{brokers}", "{topic}", group="g")
sink out = file("out/out.jsonl")
clicks | event_time ts idle 1s | window tumbling 1s
  | aggregate by user {{ n = count() }} | into out
"""


@pytest.mark.timeout(300)
@pytest.mark.parametrize("carrier", ["redis", "kafka"])
def test_a_worker_whose_partition_is_quiet_holds_back_no_window(
    tmp_path: Path, carrier: str
) -> None:
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
    broker = ensure(REDIS).url if carrier == "redis" else f"kafka://{KAFKA.url}"
    group = f"quiet-{uuid.uuid4().hex[:8]}"
    command = [sys.executable, "-m", "rillet.dsl.cli", "run", "p.rill", "--workers", "2"]
    command += ["--broker", broker, "--group", group, "-q"]
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


def test_kafka_keeps_no_checkpoints(tmp_path: Path) -> None:
    """`--state-store kafka://` is refused before anything runs, with where to keep them."""
    topic = make_topic()
    (tmp_path / "p.rill").write_text(
        f'source s = kafka("{KAFKA.url}", "{topic}", until_empty=true)\n'
        'sink o = file("o.jsonl")\ns | into o\n'
    )
    result = rillet("run", "-q", "p.rill", "--state-store", f"kafka://{KAFKA.url}", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.decode() == (
        f"rillet: error: Kafka (kafka://{KAFKA.url}) cannot keep checkpoints\n"
        "  hint: keep them in a folder all workers reach (--state-dir) or in Redis "
        "(--state-store redis://HOST:PORT)\n"
    )


BEHIND = """set checkpoint_interval = 50ms
schema Click {{ ts: int, user: int }}
source clicks: Click = kafka("{brokers}", "{topic}", group="{group}"{until})
sink out = file("out/out.jsonl")
clicks | event_time ts lateness 500ms | window tumbling 1s
  | aggregate by user {{ n = count() }} | into out
"""


def _clicks(start_ms: int, stop_ms: int) -> list[bytes]:
    return [json.dumps({"ts": t, "user": t % 3}).encode() for t in range(start_ms, stop_ms, 50)]


def _windows(folder: Path) -> list[dict]:
    """The rows written so far (whole lines: a live run may be writing the next)."""
    found = []
    for path in (folder / "out").glob("out*.jsonl"):
        found += [json.loads(line) for line in path.read_text().split("\n")[:-1]]
    return sorted(found, key=lambda row: (row["window_start"], row["user"]))


@pytest.mark.timeout(300)
def test_a_partition_whose_older_messages_come_last_has_none_late(tmp_path: Path) -> None:
    """Partition 1's messages (10-20 s) are all read, and checkpointed, before partition 0's
    (0-10 s) are even written: the watermark waits for partition 0, so its records land in
    their windows, as in a run over one partition holding every message in time order. (One
    watermark for the whole topic would have made all of partition 0 late.)"""
    reference, behind = tmp_path / "reference", tmp_path / "behind"
    for folder in (reference, behind):
        folder.mkdir()
    one = make_topic()
    produce(one, _clicks(0, 20_000))
    text = BEHIND.format(brokers=KAFKA.url, topic=one, group="g", until=", until_empty=true")
    (reference / "p.rill").write_text(text)
    done = rillet("run", "-q", "p.rill", cwd=reference, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    want = _windows(reference)
    assert sum(row["n"] for row in want) == 400

    topic, group = make_topic(partitions=2), f"behind-{uuid.uuid4().hex[:8]}"
    produce(topic, _clicks(10_000, 20_000), partition=1)
    (behind / "p.rill").write_text(
        BEHIND.format(brokers=KAFKA.url, topic=topic, group=group, until="")
    )
    command = [sys.executable, "-m", "rillet.dsl.cli", "run", "p.rill", "-q"]
    run = subprocess.Popen(command, cwd=behind, stderr=subprocess.PIPE)
    offsets = Consumer({"bootstrap.servers": KAFKA.url, "group.id": group})
    try:
        _wait(lambda: _committed(offsets, topic, 1) == 200, run)
        assert _committed(offsets, topic, 1) == 200, "partition 1 read and checkpointed"
        produce(topic, _clicks(0, 10_000), partition=0)
        for partition in (0, 1):  # closes every window up to 20 s
            produce(topic, [json.dumps({"ts": 30_000, "user": 0}).encode()], partition)
        _wait(lambda: len(_windows(behind)) >= len(want), run)
    finally:
        offsets.close()
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=60)
    assert _windows(behind) == want, err.decode()


def _committed(consumer: Consumer, topic: str, partition: int) -> int:
    (committed,) = consumer.committed([TopicPartition(topic, partition)], timeout=10)
    return committed.offset


def _wait(done: Callable[[], bool], run: subprocess.Popen) -> None:
    """Until `done()`, looking at a live run as a user would, while the run goes on."""
    deadline = time.monotonic() + 120
    while not done() and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.2)
