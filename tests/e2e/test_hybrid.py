"""A hybrid source through the real `rillet` command: 100k events of history in files, then 50k
more in a live Redis stream (tests/servers.py). SIGKILLed while it reads the history, just after
it switched to the stream and while it reads the stream, and resumed each time, the run writes
exactly the windows of one bounded run over the same 150k events read as one file; the log says
when it switched, counting the history's records across the crash; the stream is left with
nothing unacknowledged. The kill-and-resume pattern is tests/e2e/test_brokers.py's.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from rillet.runtime.checkpoint import FileCheckpointStore
from rillet.stdlib.generate import START_MS, click_events
from tests.servers import KAFKA, REDIS, ensure
from tests.stdlib.test_kafka import make_topic, produce

HISTORY = 100_000
LIVE = 50_000

HEAD = """set batch_size = 500
set checkpoint_interval = 50ms
schema Click {
  ts: int
  user: int
  page: str
  status: int
  latency_ms: float
}
"""
WINDOWED = """sink out = file("out/out.jsonl")
clicks | event_time ts lateness 2s | window tumbling 1s
  | aggregate by page { n = count(), total = sum(latency_ms) } | into out
"""
BOUNDED = 'source clicks: Click = file("all.jsonl")\n'
HYBRID = """param url = "redis://"
param stream = "s"
source clicks: Click = file("history/*.jsonl")
  then redis_stream(url, stream, group="hybrid", until_empty=true)
"""
SWITCH = (
    'source clicks: file("history/*.jsonl") read to its end (100000 records); '
    "now reading redis_stream(...)"
)


@pytest.fixture(scope="module")
def lines() -> list[str]:
    events = click_events(random.Random(16), 0, HISTORY + LIVE, START_MS, 1.0)
    return [json.dumps(e) + "\n" for e in events]


@pytest.fixture
def stream(lines: list[str]) -> Iterator[str]:
    """The live part's stream, holding the last `LIVE` events."""
    ensure(REDIS)
    name = f"e2e-hybrid-{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(REDIS.url)
    pipe = client.pipeline(transaction=False)
    for line in lines[HISTORY:]:
        pipe.xadd(name, {"data": line.rstrip("\n")})
    pipe.execute()
    yield name
    client.delete(name)
    client.close()


def command(params: dict[str, str]) -> list[str]:
    args = [a for name, value in params.items() for a in ("-p", f"{name}={value}")]
    return [sys.executable, "-m", "rillet.dsl.cli", "run", "p.rill", *args]


def newest_position(folder: Path) -> dict[str, Any] | None:
    """The hybrid's position in the newest saved checkpoint (`runtime/hybrid.py`)."""
    state = folder / ".rillet" / "p"
    manifest = FileCheckpointStore(state).latest() if state.is_dir() else None
    return manifest.sources.get("clicks") if manifest is not None else None


Moment = Callable[[dict[str, Any]], bool]
KILL_AT: list[tuple[str, Moment]] = [
    ("in the history", lambda p: p["part"] == 0 and p["read"] >= 20_000),
    ("at the switch", lambda p: p["part"] == 1),
    ("in the live part", lambda p: p["part"] == 1 and p["read"] >= 10_000),
]


def run_with_kills(
    folder: Path, params: dict[str, str], kill_at: list[tuple[str, Moment]] = KILL_AT
) -> list[str]:
    """Run, SIGKILL once the newest checkpoint is at each moment of `kill_at` in turn, resume
    each time; then let the last run finish. Each run's standard error, in order."""
    logs = []
    for at, (what, moment) in enumerate([*kill_at, ("never", lambda p: False)]):
        log = folder / f"stderr-{at}.log"
        with open(log, "wb") as err:
            process = subprocess.Popen(
                command(params), cwd=folder, stdout=subprocess.DEVNULL, stderr=err
            )
            while process.poll() is None:
                position = newest_position(folder)
                if position is not None and moment(position):
                    os.kill(process.pid, signal.SIGKILL)
                    break
                time.sleep(0.005)
            process.wait(timeout=300)
        logs.append(log.read_text())
        if what == "never":
            assert process.returncode == 0, logs[-1]
        else:
            assert process.returncode == -signal.SIGKILL, f"not killed {what}: {logs[-1]}"
    return logs


@pytest.mark.timeout(900)
def test_hybrid_killed_in_the_history_at_the_switch_and_live_writes_the_bounded_output(
    lines: list[str], stream: str, tmp_path: Path
) -> None:
    bounded, hybrid = tmp_path / "bounded", tmp_path / "hybrid"
    for folder, text in ((bounded, BOUNDED), (hybrid, HYBRID)):
        folder.mkdir()
        (folder / "p.rill").write_text(HEAD + text + WINDOWED)
    (bounded / "all.jsonl").write_text("".join(lines))
    (hybrid / "history").mkdir()
    half = HISTORY // 2
    (hybrid / "history" / "a.jsonl").write_text("".join(lines[:half]))
    (hybrid / "history" / "b.jsonl").write_text("".join(lines[half:HISTORY]))
    done = subprocess.run(command({}), cwd=bounded, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()

    logs = run_with_kills(hybrid, {"url": REDIS.url, "stream": stream})

    want = (bounded / "out" / "out.jsonl").read_bytes()
    assert want.count(b"\n") > 100, "the bounded run wrote few windows"
    assert (hybrid / "out" / "out.jsonl").read_bytes() == want
    # killed in the history, the next run resumed there and switched, counting every record
    assert SWITCH not in logs[0] and SWITCH in logs[1]
    assert all(SWITCH not in log for log in logs[2:])
    client = redis.Redis.from_url(REDIS.url)
    try:
        assert client.xpending(stream, "hybrid")["pending"] == 0
    finally:
        client.close()


def test_a_batch_pipeline_given_a_then_goes_on_from_its_history_checkpoint(
    tmp_path: Path,
) -> None:
    """The migration: a finished batch run, the same pipeline with a live part added, run
    again: the history is not read again, and the window open at its end takes the new part's
    records (the file sink is cut back to before the end of input fired it)."""
    (tmp_path / "h.jsonl").write_text("".join(json.dumps({"ts": t}) + "\n" for t in (1, 5, 12)))
    (tmp_path / "l.jsonl").write_text("".join(json.dumps({"ts": t}) + "\n" for t in (14, 25)))
    pipeline = tmp_path / "p.rill"
    text = """source clicks = file("h.jsonl")
sink out = file("out.jsonl")
clicks | event_time ts | window tumbling 10ms | aggregate { n = count() } | into out
"""
    pipeline.write_text(text)
    done = subprocess.run(command({}), cwd=tmp_path, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    pipeline.write_text(text.replace('file("h.jsonl")', 'file("h.jsonl") then file("l.jsonl")'))
    done = subprocess.run(command({}), cwd=tmp_path, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(w["window_start"], w["n"]) for w in out] == [(0, 2), (10, 2), (20, 1)]
    assert (
        'file("h.jsonl") read to its end (0 records since the pipeline had its `then`); '
        'now reading file("l.jsonl")'
    ) in done.stderr.decode()


KAFKA_HYBRID = """param brokers = "127.0.0.1:9092"
param topic = "t"
source clicks: Click = file("history/*.jsonl")
  then kafka(brokers, topic, group="hybrid", until_empty=true)
"""


@pytest.mark.timeout(900)
def test_hybrid_over_kafka_partitions_killed_at_the_switch_and_live_writes_the_bounded_output(
    lines: list[str], tmp_path: Path
) -> None:
    """A live part with three partitions: the source lists them after the switch, and the
    windows are those of one bounded run."""
    history, live = lines[:30_000], lines[30_000:45_000]
    topic = make_topic(partitions=3)
    for partition in range(3):
        produce(topic, [line.rstrip("\n").encode() for line in live[partition::3]], partition)
    bounded, hybrid = tmp_path / "bounded", tmp_path / "hybrid"
    for folder, text in ((bounded, BOUNDED), (hybrid, KAFKA_HYBRID)):
        folder.mkdir()
        (folder / "p.rill").write_text(HEAD + text + WINDOWED)
    (bounded / "all.jsonl").write_text("".join(history + live))
    (hybrid / "history").mkdir()
    (hybrid / "history" / "a.jsonl").write_text("".join(history))
    done = subprocess.run(command({}), cwd=bounded, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()

    kill_at: list[tuple[str, Moment]] = [
        ("at the switch", lambda p: p["part"] == 1),
        ("in the live part", lambda p: p["part"] == 1 and p["read"] >= 5_000),
    ]
    logs = run_with_kills(hybrid, {"brokers": KAFKA.url, "topic": topic}, kill_at)

    assert windows(hybrid) == windows(bounded)
    assert "now reading kafka(...)" in logs[0]


def windows(folder: Path) -> list[tuple[int, str, int, float]]:
    """The windows written, in order of window and page, sums rounded: across partitions the
    records of a window arrive in another order than in one file, and so are summed."""
    rows = [json.loads(line) for line in (folder / "out" / "out.jsonl").read_text().splitlines()]
    assert len(rows) > 100, "few windows written"
    return sorted((r["window_start"], r["page"], r["n"], round(r["total"], 6)) for r in rows)
