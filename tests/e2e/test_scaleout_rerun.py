"""`rillet run --workers 2` again after the checkpoints or the shuffles in the broker (Redis, or
Kafka topics) went away: the two no longer fit, and a run over them used to hang (readers
waited for epochs the restarted workers never recorded). The supervisor now says so before any
worker starts (exit 2), and `--fresh` starts over and reads what the input broker holds that
was not yet acknowledged."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import anyio
import pytest

from rillet.runtime.clock import SystemClock
from rillet.stdlib.kafkabroker import KafkaBroker
from tests.servers import KAFKA, REDIS, ensure, redis_client

START_MS = 1_700_000_000_000
PIPELINE = """set checkpoint_interval = 100ms
schema Click {{
  ts: int
  page: str
}}
source clicks: Click = redis_stream("{url}", "{stream}", group="g", until_empty=true)
sink out = file("out/out.jsonl")
clicks | event_time ts | window tumbling 5s | aggregate by page {{ n = count() }} | into out
"""


def add_clicks(stream: str, start_ms: int, seed: int) -> Counter:
    """2,000 clicks over 20 s from `start_ms` into `stream`; the counts per window and page."""
    rng = random.Random(seed)
    counts: Counter = Counter()
    pipe = redis_client().pipeline(transaction=False)
    for i in range(2000):
        ts, page = start_ms + i * 10, f"p{rng.randrange(7)}"
        pipe.xadd(stream, {"data": json.dumps({"ts": ts, "page": page})})
        counts[ts // 5000 * 5000, page] += 1
    pipe.execute()
    return counts


def output(folder: Path) -> Counter:
    """Both workers' files, as counts per window and page."""
    rows = [
        json.loads(line)
        for path in sorted((folder / "out").glob("out.w*.jsonl"))
        for line in path.read_text().splitlines()
    ]
    assert all(r["window_end"] == r["window_start"] + 5000 for r in rows)
    counts = Counter({(r["window_start"], r["page"]): r["n"] for r in rows})
    assert len(counts) == len(rows), "a window written twice"
    return counts


def where(broker: str) -> str:
    """How an error names the broker."""
    return f"{'Kafka' if broker.startswith('kafka:') else 'Redis'} at {broker}"


@pytest.fixture(params=["redis", "kafka"])
def run(request: pytest.FixtureRequest, tmp_path: Path):
    """A pipeline over a stream and a group of their own, a first batch of clicks, the
    `rillet run --workers 2` command for it, and the broker its shuffles run on."""
    broker = REDIS.url if request.param == "redis" else f"kafka://{ensure(KAFKA).url}"
    name = f"rerun-{uuid.uuid4().hex[:10]}"
    (tmp_path / "p.rill").write_text(PIPELINE.format(url=REDIS.url, stream=name))
    first = add_clicks(name, START_MS, seed=1)

    def workers(*options: str) -> subprocess.CompletedProcess:
        """The run, its workers killed with it should it hang (as it did)."""
        command = [
            sys.executable,
            "-m",
            "rillet.dsl.cli",
            "run",
            "p.rill",
            "--workers",
            "2",
            "--broker",
            broker,
            "--group",
            name,
            "-q",
            *options,
        ]
        with subprocess.Popen(
            command, cwd=tmp_path, stderr=subprocess.PIPE, start_new_session=True
        ) as supervisor:
            try:
                _, err = supervisor.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(supervisor.pid, signal.SIGKILL)
                raise
        return subprocess.CompletedProcess(command, supervisor.returncode, b"", err)

    yield tmp_path, name, first, workers, broker
    client = redis_client()
    client.delete(name, *client.scan_iter(match=f"rillet:{name}:*"))
    if request.param == "kafka":
        anyio.run(KafkaBroker(broker).clear, f"rillet:{name}", SystemClock())


def refused(workers) -> str:
    """The one line a run printed, checking that it was refused at once."""
    started = time.monotonic()
    done = workers()
    assert time.monotonic() - started < 10
    message = done.stderr.decode()
    assert done.returncode == 2, message
    assert message.count("\n") == 1 and message.startswith("rillet: error: "), message
    return message


def test_deleted_checkpoints_stop_the_rerun_and_fresh_starts_over(run) -> None:
    folder, name, first, workers, broker = run
    done = workers()
    assert done.returncode == 0, done.stderr.decode()
    assert output(folder) == first
    second = add_clicks(name, START_MS + 100_000, seed=2)
    shutil.rmtree(folder / ".rillet")

    message = refused(workers)
    assert message == (
        f"rillet: error: {where(broker)} holds shuffles of group `{name}` from an earlier "
        "run, but workers 0, 1 have no checkpoint that continues them (deleted?), so the run "
        "would wait for them forever; rerun with --fresh to clear both and start over\n"
    )
    assert output(folder) == first, "no worker ran"

    done = workers("--fresh")
    assert done.returncode == 0, done.stderr.decode()
    assert output(folder) == second


def test_shuffles_lost_from_the_broker_stop_the_rerun(run) -> None:
    folder, name, first, workers, broker = run
    done = workers()
    assert done.returncode == 0, done.stderr.decode()
    second = add_clicks(name, START_MS + 100_000, seed=2)
    if broker.startswith("kafka:"):  # the topics deleted
        anyio.run(KafkaBroker(broker).clear, f"rillet:{name}", SystemClock())
    else:  # as a FLUSHDB would
        client = redis_client()
        client.delete(*client.scan_iter(match=f"rillet:{name}:shuffle*"))

    message = refused(workers)
    assert message.startswith(
        f"rillet: error: {where(broker)} holds no shuffle "
        f"`shuffle2.0` of group `{name}`, yet worker 0's checkpoint "
    )
    assert message.endswith(
        "continues one (was the broker emptied, or did the earlier run use "
        "another --broker?); rerun with --fresh to clear both and start "
        "over\n"
    )
    assert output(folder) == first

    done = workers("--fresh")
    assert done.returncode == 0, done.stderr.decode()
    assert output(folder) == second


def test_checkpoints_of_a_run_over_stale_shuffles_do_not_match_them(run) -> None:
    """What a rerun without this check left: a worker that resumed nothing over the earlier
    run's shuffles checkpointed an epoch the broker records as the earlier run's (stopped by
    hand while it waited, on Redis; on Kafka, whose topics still hold the earlier run's
    messages, once it had read them to their ends)."""
    folder, name, first, workers, broker = run
    assert workers().returncode == 0
    shutil.rmtree(folder / ".rillet")
    with subprocess.Popen(  # one worker as the supervisor starts it, with no check before
        [
            sys.executable,
            "-m",
            "rillet.dsl.cli",
            "run",
            "p.rill",
            "--worker",
            "0",
            "--workers",
            "2",
            "--broker",
            broker,
            "--group",
            name,
            "-q",
        ],
        cwd=folder,
        stderr=subprocess.PIPE,
    ) as worker:
        try:
            if broker.startswith("kafka:"):  # Kafka kept the earlier run's messages
                assert worker.wait(timeout=30) == 0, worker.stderr.read().decode()
            else:
                checkpoints = folder / ".rillet" / "p" / "worker-0"
                deadline = time.monotonic() + 30
                while len(list(checkpoints.glob("checkpoint-*.msgpack"))) < 2:
                    assert worker.poll() is None, worker.stderr.read().decode()
                    assert time.monotonic() < deadline, "the worker saved no checkpoints"
                    time.sleep(0.1)
                worker.send_signal(signal.SIGINT)
                assert worker.wait(timeout=30) == 130
        finally:
            worker.kill()

    message = refused(workers)
    assert message.startswith(
        f"rillet: error: shuffle `shuffle2.0` of group `{name}` in {where(broker)} "
        "does not match worker 0's checkpoint "
    )
    assert message.endswith(
        ": they come from different runs; rerun with --fresh to clear both and start over\n"
    )

    done = workers("--fresh")
    assert done.returncode == 0, done.stderr.decode()
    assert output(folder) == Counter(), "the input was read before; nothing stale came back"
