"""`rillet run --workers 2`: two worker processes read one input through a broker (a Redis
stream's consumer group, a NATS durable consumer) and shuffle records by key through Redis to
windowed aggregates, `rolling` and `top`, written to files or upserted into PostgreSQL. Workers
are SIGKILLed at random moments and restarted by the supervisor; the result equals a single
process's, nothing is left pending in the broker or staged in the database, and nothing is
doubled."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import anyio
import nats
import psycopg
import pytest
import redis

from rillet.stdlib.generate import START_MS, click_events
from tests.conftest import rillet
from tests.servers import NATS, POSTGRES, REDIS, ensure, redis_client

SCHEMA = """set batch_size = 200
set checkpoint_interval = 100ms
schema Click {
  ts: int
  user: int
  page: str
  status: int
  latency_ms: float
}
"""
FLOW = """sink out = file("out/out.jsonl")
clicks | event_time ts lateness 2s | window tumbling 1s
  | aggregate by user { n = count(), total = sum(latency_ms) } | into out
"""
EVENTS = 30_000
LONG_EVENTS = 120_000
"""For the runs killed at random: long enough that two kills land in them on a fast machine."""


@pytest.fixture
def setup(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Path, str, list[dict]]:
    """A folder with the scaled-out pipeline and a reference one, and a filled stream (of
    EVENTS events, or as many as the test asks for)."""
    client = redis_client()
    stream = f"clicks-{tmp_path.name}"
    events = click_events(random.Random(11), 0, getattr(request, "param", EVENTS), START_MS, 1.0)
    client.delete(stream)
    for start in range(0, len(events), 5000):
        pipe = client.pipeline(transaction=False)
        for event in events[start : start + 5000]:
            pipe.xadd(stream, {"data": json.dumps(event)})
        pipe.execute()
    source = (
        f'source clicks: Click = redis_stream("{REDIS.url}", "{stream}", group="g", '
        "until_empty=true)\n"
    )
    (tmp_path / "p.rill").write_text(SCHEMA + source + FLOW)
    (tmp_path / "clicks.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (tmp_path / "ref.rill").write_text(
        SCHEMA + 'source clicks: Click = file("clicks.jsonl")\n' + FLOW.replace("out/out", "ref")
    )
    return tmp_path, stream, events


def rows(paths: list[Path]) -> list[str]:
    """Output rows as a sorted multiset; sums rounded, since float addition order differs."""
    found = []
    for path in paths:
        for line in path.read_text().splitlines():
            row = json.loads(line)
            row["total"] = round(row["total"], 6)
            found.append(json.dumps(row, sort_keys=True))
    return sorted(found)


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def run_workers_with_kills(
    folder: Path,
    pipeline: str,
    *options: str,
    kills: int = 5,
    seed: int = 7,
    every_s: tuple[float, float] = (0.8, 1.6),
    broker: str = REDIS.url,
) -> str:
    """`rillet run --workers 2` with the shuffle on `broker`, SIGKILLing a random worker every
    so often (`every_s`, past a restarted worker's start-up by default) until `kills` are done
    or the run ends; its standard error."""
    group = f"{folder.name}-{uuid.uuid4().hex[:8]}"  # shuffles of other runs stay apart
    command = [
        sys.executable,
        "-m",
        "rillet.dsl.cli",
        "run",
        pipeline,
        "--workers",
        "2",
        "--broker",
        broker,
        "--group",
        group,
        "--fresh",
        "-q",
        *options,
    ]
    rng = random.Random(seed)
    done = 0
    with open(folder / "stderr.log", "wb") as err:
        supervisor = subprocess.Popen(command, cwd=folder, stderr=err)
        try:
            deadline = time.monotonic() + 120
            while supervisor.poll() is None and done < kills and time.monotonic() < deadline:
                time.sleep(rng.uniform(*every_s))
                workers = children(supervisor.pid)
                if workers:
                    os.kill(rng.choice(workers), signal.SIGKILL)
                    done += 1
            code = supervisor.wait(timeout=300)
        finally:  # a test that failed leaves no workers behind
            for worker in children(supervisor.pid):
                os.kill(worker, signal.SIGKILL)
            supervisor.kill()
        assert code == 0, (folder / "stderr.log").read_text()
    log = (folder / "stderr.log").read_text()
    # a kill can land on a worker that has just finished: count the restarts it caused
    assert log.count("restarting it from its last checkpoint") >= 2, log
    return log


@pytest.mark.timeout(600)
@pytest.mark.parametrize("setup", [LONG_EVENTS], indirect=True)
def test_two_workers_killed_at_random_equal_one_process(setup) -> None:
    folder, stream, _ = setup
    reference = rillet("run", "ref.rill", "-q", cwd=folder)
    assert reference.returncode == 0, reference.stderr.decode()
    run_workers_with_kills(folder, "p.rill", every_s=(0.5, 1.0))  # some land in start-ups
    outputs = sorted((folder / "out").glob("out.w*.jsonl"))
    assert [p.name for p in outputs] == ["out.w0.jsonl", "out.w1.jsonl"]
    assert rows(outputs) == rows([folder / "ref.jsonl"])
    client = redis.Redis.from_url(REDIS.url)
    assert client.xpending(stream, "g")["pending"] == 0


ROLLING = """sink out = file("out/rolled.jsonl")
clicks | event_time ts lateness 2s
  | rolling 50ms by user { n = count(), total = sum(latency_ms) } | into out
"""
TOP = """sink out = file("out/top.jsonl")
clicks | event_time ts lateness 2s | window tumbling 1s
  | top 2 by latency_ms desc, ts asc, user asc per page | into out
"""


def two_workers_and_one_process(folder: Path, stream: str, name: str, flow: str) -> None:
    """`flow` run by two workers reading `stream`, each writing some of its rows, and by one
    process reading the same clicks from a file: the same rows."""
    source = (
        f'source clicks: Click = redis_stream("{REDIS.url}", "{stream}", group="g", '
        "until_empty=true)\n"
    )
    (folder / f"{name}.rill").write_text(SCHEMA + source + flow)
    reference = 'source clicks: Click = file("clicks.jsonl")\n'
    (folder / f"ref_{name}.rill").write_text(SCHEMA + reference + flow.replace("out/", ""))
    one = rillet("run", f"ref_{name}.rill", "-q", cwd=folder)
    assert one.returncode == 0, one.stderr.decode()
    group = f"{folder.name}-{uuid.uuid4().hex[:8]}"
    options = ("--workers", "2", "--broker", REDIS.url, "--group", group, "--fresh", "-q")
    two = rillet("run", f"{name}.rill", *options, cwd=folder, timeout=300)
    assert two.returncode == 0, two.stderr.decode()
    outputs = sorted((folder / "out").glob(f"{name}.w*.jsonl"))
    assert [p.name for p in outputs] == [f"{name}.w0.jsonl", f"{name}.w1.jsonl"]
    assert all(p.stat().st_size for p in outputs), "each worker wrote some keys"
    worker_rows = rounded(line for p in outputs for line in p.read_text().splitlines())
    assert worker_rows == rounded((folder / f"{name}.jsonl").read_text().splitlines())


def rounded(lines) -> list[str]:
    """Rows with floats to 6 places, sorted: records of one key at the same time reach a worker
    in the order the shuffle interleaved them, and a sum over them depends on that order."""
    rows = (json.loads(line) for line in lines)
    return sorted(
        json.dumps({k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()})
        for row in rows
    )


def test_two_workers_roll_each_users_clicks_as_one_process(setup) -> None:
    """`rolling` is keyed: each user's clicks are shuffled to one worker, which holds them all
    and scores each click as one process does."""
    folder, stream, _ = setup
    two_workers_and_one_process(folder, stream, "rolled", ROLLING)


def test_two_workers_rank_each_pages_clicks_as_one_process(setup) -> None:
    """`top` is keyed by `per`: each page's clicks are shuffled to one worker, which ranks
    each second's as one process does (the order fields leave no ties to arrival)."""
    folder, stream, _ = setup
    two_workers_and_one_process(folder, stream, "top", TOP)


def test_workers_need_a_broker_and_shared_sources(setup) -> None:
    folder, _, _ = setup
    no_broker = rillet("run", "p.rill", "--workers", "2", cwd=folder)
    assert no_broker.returncode == 2
    assert no_broker.stderr.decode().strip() == (
        "rillet: error: --workers needs --broker redis://HOST:PORT or kafka://HOST:PORT, the "
        "broker that carries records between workers"
    )
    from_file = rillet(
        "run",
        "ref.rill",
        "--workers",
        "2",
        "--broker",
        REDIS.url,
        "--group",
        folder.name,
        cwd=folder,
    )
    assert from_file.returncode == 2
    message = from_file.stderr.decode()
    assert message.count("source `clicks` (file) cannot be shared by workers") == 1, message
    assert "Traceback" not in message


FEATURES = """sink features = postgres("{url}", "{table}", key="user")
clicks | event_time ts lateness 2s | window tumbling 1s
  | aggregate by user {{ n = count(), total = sum(latency_ms) }} | into features
"""


def table_rows(table: str) -> list[tuple]:
    """A feature table's rows, sums rounded (float addition order differs between runs)."""
    with psycopg.connect(POSTGRES.url) as conn:
        rows = conn.execute(f"SELECT * FROM {table}").fetchall()
        columns = [c.name for c in conn.execute(f"SELECT * FROM {table} LIMIT 0").description]
    total = columns.index("total")
    return sorted(
        tuple(round(v, 6) if i == total else v for i, v in enumerate(row)) for row in rows
    )


def staged(table: str) -> int:
    with psycopg.connect(POSTGRES.url) as conn:
        return conn.execute(
            "SELECT count(*) FROM _rillet_staged s JOIN _rillet_commits c ON "
            "c.id = s.sink_id WHERE c.target LIKE %s",
            [f"%{table}%"],
        ).fetchone()[0]


def reference_table(folder: Path) -> str:
    """The per-user feature table of one process reading the same events from a file."""
    ensure(POSTGRES)
    table = f"ref_{uuid.uuid4().hex[:12]}"
    (folder / "features_ref.rill").write_text(
        SCHEMA
        + 'source clicks: Click = file("clicks.jsonl")\n'
        + FEATURES.format(url=POSTGRES.url, table=table)
    )
    reference = rillet("run", "features_ref.rill", "-q", cwd=folder)
    assert reference.returncode == 0, reference.stderr.decode()
    return table


@pytest.mark.timeout(600)
@pytest.mark.parametrize("setup", [LONG_EVENTS], indirect=True)
def test_features_upserted_into_postgres_by_two_workers_sharing_a_state_store(setup) -> None:
    folder, stream, events = setup
    want = reference_table(folder)
    table = f"w_{uuid.uuid4().hex[:12]}"
    source = (
        f'source clicks: Click = redis_stream("{REDIS.url}", "{stream}", group="g", '
        "until_empty=true)\n"
    )
    (folder / "features.rill").write_text(
        SCHEMA + source + FEATURES.format(url=POSTGRES.url, table=table)
    )
    run_workers_with_kills(folder, "features.rill", "--state-store", REDIS.url, every_s=(0.5, 1.0))
    assert len(table_rows(want)) == len({e["user"] for e in events})
    assert table_rows(table) == table_rows(want)
    assert staged(table) == 0
    assert redis.Redis.from_url(REDIS.url).xpending(stream, "g")["pending"] == 0
    assert not (folder / ".rillet" / "features").exists(), "checkpoints went to the store"


@pytest.mark.timeout(600)
@pytest.mark.parametrize("setup", [LONG_EVENTS], indirect=True)
def test_the_same_through_nats(setup) -> None:
    folder, _, events = setup
    ensure(NATS)
    name = f"SCALE_{uuid.uuid4().hex[:12].upper()}"
    subject = name.lower()

    async def fill() -> None:
        nc = await nats.connect(NATS.url)
        try:
            js = nc.jetstream()
            await js.add_stream(name=name, subjects=[subject])
            for event in events:
                await nc.publish(subject, json.dumps(event).encode())
            await nc.flush()
            while (await js.stream_info(name)).state.messages < len(events):
                await anyio.sleep(0.05)
        finally:
            await nc.close()

    async def pending() -> list[tuple[int, int]]:
        """Each worker's durable (`g-w0`, `g-w1`): messages not delivered, not acknowledged."""
        nc = await nats.connect(NATS.url)
        try:
            infos = [await nc.jetstream().consumer_info(name, f"g-w{w}") for w in range(2)]
            return [(info.num_pending, info.num_ack_pending) for info in infos]
        finally:
            await nc.jetstream().delete_stream(name)
            await nc.close()

    anyio.run(fill)
    want = reference_table(folder)
    table = f"n_{uuid.uuid4().hex[:12]}"
    # a worker restarts well within `ack_wait`, so the server hands what it held back to it
    source = (
        f'source clicks: Click = nats("{NATS.url}", "{subject}", stream="{name}", '
        'durable="g", until_empty=true, ack_wait=5s)\n'
    )
    (folder / "features.rill").write_text(
        SCHEMA + source + FEATURES.format(url=POSTGRES.url, table=table)
    )
    # killed sooner, some workers die before their first checkpoint: what they read must still
    # come back before newer messages, or it is late for its windows and dropped
    run_workers_with_kills(folder, "features.rill", kills=4, every_s=(0.5, 1.0))
    assert table_rows(table) == table_rows(want)
    assert staged(table) == 0
    assert anyio.run(pending) == [(0, 0), (0, 0)]
