"""Pipelines reading real brokers through the real `rillet` command (tests/servers.py): a Redis
stream and a NATS JetStream stream of click events, through a window aggregate into files.
SIGKILLed at random moments and resumed until done, a run writes the output of a run that was
never interrupted and leaves nothing unacknowledged; malformed entries reach the error sink with
their stream ids (Redis) or sequences (NATS); a broker stopped and restarted mid-run is waited
for, and the output is still complete. The pattern is tests/e2e/test_crash.py's.
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
from collections.abc import Iterator
from pathlib import Path

import anyio
import nats
import pytest
import redis

from rillet.stdlib.generate import START_MS, click_events
from tests.servers import NATS, REDIS, ensure, stop

EVENTS = 100_000
KILLS = 5
TORN_EVERY = 4999  # every so many entries, a torn JSON document

HEAD = """set batch_size = 200
set checkpoint_interval = 50ms
param url = "{url}"
param stream = "s"
param group = "g"
schema Click {{
  ts: int
  user: int
  page: str
  status: int
  latency_ms: float
}}
"""
WINDOWED = """sink out = file("out/out.jsonl")
sink rejects = file("out/rejects.jsonl")
errors into rejects
clicks | event_time ts lateness 2s | window tumbling 1s
  | aggregate by page { n = count(), total = sum(latency_ms) } | into out
"""
STATELESS = """sink out = file("out/out.jsonl")
sink rejects = file("out/rejects.jsonl")
errors into rejects
clicks | where status == 200 | select ts, user, page | into out
"""
REDIS_SOURCE = (
    'source clicks: Click = redis_stream(url, stream, group=group, consumer="w1", '
    "until_empty=true)\n"
)
NATS_SOURCE = (
    'param subject = "s"\n'
    "source clicks: Click = nats(url, subject, stream=stream, durable=group, "
    "until_empty=true, ack_wait=500ms)\n"
)


def payloads() -> list[bytes]:
    events = click_events(random.Random(7), 0, EVENTS, START_MS, 1.0)
    lines = [json.dumps(e).encode() for e in events]
    for at in range(5, len(lines), TORN_EVERY):
        lines[at] = lines[at][: len(lines[at]) // 2]
    return lines


@pytest.fixture(scope="module")
def data() -> list[bytes]:
    return payloads()


@pytest.fixture
def redis_stream(data: list[bytes]) -> Iterator[tuple[str, list[str]]]:
    ensure(REDIS)
    name = f"e2e-{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(REDIS.url)
    pipe = client.pipeline(transaction=False)
    for payload in data:
        pipe.xadd(name, {"data": payload})
    ids = [i.decode() for i in pipe.execute()]
    yield name, ids
    ensure(REDIS)
    client.delete(name)
    client.close()


@pytest.fixture
def nats_streams() -> Iterator[str]:
    """A prefix for this test's JetStream streams (subjects are their names in lower case),
    deleted afterwards."""
    ensure(NATS)
    prefix = f"E2E_{uuid.uuid4().hex[:10].upper()}"
    yield prefix

    async def delete() -> None:
        nc = await nats.connect(NATS.url)
        try:
            js = nc.jetstream()
            for info in await js.streams_info():
                if info.config.name.startswith(prefix):
                    await js.delete_stream(info.config.name)
        finally:
            await nc.close()

    ensure(NATS)
    anyio.run(delete)


def fill_nats(stream: str, data: list[bytes]) -> dict[str, str]:
    """A stream holding `data` under the subject `stream.lower()`; the params to read it with a
    durable of the same name."""
    subject = stream.lower()

    async def body() -> None:
        nc = await nats.connect(NATS.url)
        try:
            js = nc.jetstream()
            await js.add_stream(name=stream, subjects=[subject])
            for payload in data:
                await nc.publish(subject, payload)
            await nc.flush()
            while (await js.stream_info(stream)).state.messages < len(data):
                await anyio.sleep(0.05)
        finally:
            await nc.close()

    anyio.run(body)
    return {"subject": subject, "stream": stream, "group": stream}


def command(folder: Path, params: dict[str, str]) -> list[str]:
    args = [a for name, value in params.items() for a in ("-p", f"{name}={value}")]
    return [sys.executable, "-m", "rillet.dsl.cli", "run", "--quiet", "p.rill", *args]


def run_to_completion(folder: Path, params: dict[str, str]) -> None:
    result = subprocess.run(command(folder, params), cwd=folder, capture_output=True, timeout=180)
    assert result.returncode == 0, result.stderr.decode()


def newest_checkpoint(folder: Path) -> str:
    return max(
        (p.name for p in (folder / ".rillet" / "p").glob("checkpoint-*.msgpack")), default=""
    )


def run_with_kills(folder: Path, params: dict[str, str], rng: random.Random, kills: int) -> int:
    """Start; once the run has saved a checkpoint of its own, SIGKILL it after a random delay
    (so that every kill lands mid-run, whatever the machine's speed), restart; once `kills`
    are done, let it finish."""
    done = 0
    log = folder / "stderr.log"
    while True:
        with open(log, "wb") as err:
            before = newest_checkpoint(folder)
            process = subprocess.Popen(
                command(folder, params), cwd=folder, stdout=subprocess.DEVNULL, stderr=err
            )
            if done < kills:
                while process.poll() is None and newest_checkpoint(folder) == before:
                    time.sleep(0.01)
                time.sleep(rng.uniform(0, 0.1))  # a run goes on for about half a second
                if process.poll() is None:
                    os.kill(process.pid, signal.SIGKILL)
                    process.wait()
                    done += 1
                    continue
            process.wait(timeout=180)
        assert process.returncode == 0, log.read_text()
        return done


def folders(tmp_path: Path, text: str) -> dict[str, Path]:
    out = {}
    for kind in ("reference", "other"):
        folder = out[kind] = tmp_path / kind
        folder.mkdir()
        (folder / "p.rill").write_text(text)
    return out


def outputs(folder: Path, stream: str = "") -> tuple[bytes, list[bytes]]:
    """The output, and the error records sorted, the stream's name (in `file`) left out."""
    out = (folder / "out" / "out.jsonl").read_bytes()
    rejects = (folder / "out" / "rejects.jsonl").read_bytes()
    if stream:
        rejects = rejects.replace(f'"file":"{stream}"'.encode(), b'"file":"STREAM"')
    return out, sorted(rejects.splitlines())


def redis_pending(stream: str, group: str) -> int:
    client = redis.Redis.from_url(REDIS.url)
    try:
        return client.xpending(stream, group)["pending"]
    finally:
        client.close()


def nats_counts(stream: str, durable: str) -> tuple[int, int]:
    async def body() -> tuple[int, int]:
        nc = await nats.connect(NATS.url)
        try:
            info = await nc.jetstream().consumer_info(stream, durable)
            return info.num_pending, info.num_ack_pending
        finally:
            await nc.close()

    return anyio.run(body)


def assert_rejects_name_their_stream_ids(rejects: list[bytes], ids: list, stream: str) -> None:
    records = [json.loads(line) for line in rejects]
    torn = [ids[at] for at in range(5, EVENTS, TORN_EVERY)]
    assert sorted(r["offset"] for r in records) == sorted(torn)
    assert all(
        r["source"] == "clicks"
        and r["file"] == stream
        and r["operator"] == "source"
        and r["reason"].startswith("malformed JSON")
        for r in records
    )


@pytest.mark.timeout(600)
def test_redis_pipeline_killed_and_resumed_writes_the_uninterrupted_output(
    redis_stream: tuple[str, list[str]], tmp_path: Path
) -> None:
    stream, ids = redis_stream
    dirs = folders(tmp_path, HEAD.format(url=REDIS.url) + REDIS_SOURCE + WINDOWED)
    run_to_completion(dirs["reference"], {"stream": stream, "group": "reference"})
    kills = run_with_kills(
        dirs["other"], {"stream": stream, "group": "crashed"}, random.Random(1), KILLS
    )
    assert kills >= 3
    want, got = outputs(dirs["reference"]), outputs(dirs["other"])
    assert want[0], "the reference run wrote nothing"
    assert got == want
    assert_rejects_name_their_stream_ids(got[1], ids, stream)
    assert redis_pending(stream, "reference") == 0
    assert redis_pending(stream, "crashed") == 0


@pytest.mark.timeout(600)
def test_nats_pipeline_killed_and_resumed_writes_the_uninterrupted_output(
    nats_streams: str, data: list[bytes], tmp_path: Path
) -> None:
    dirs = folders(tmp_path, HEAD.format(url=NATS.url) + NATS_SOURCE + WINDOWED)
    reference = fill_nats(f"{nats_streams}_REFERENCE", data)
    crashed = fill_nats(f"{nats_streams}_CRASHED", data)
    run_to_completion(dirs["reference"], reference)
    kills = run_with_kills(dirs["other"], crashed, random.Random(2), KILLS)
    assert kills >= 3
    assert_rejects_name_their_stream_ids(
        outputs(dirs["other"])[1], list(range(1, EVENTS + 1)), crashed["stream"]
    )
    want = outputs(dirs["reference"], reference["stream"])
    got = outputs(dirs["other"], crashed["stream"])
    assert want[0], "the reference run wrote nothing"
    assert got == want
    assert nats_counts(reference["stream"], reference["group"]) == (0, 0)
    assert nats_counts(crashed["stream"], crashed["group"]) == (0, 0)


def run_through_a_restart(folder: Path, params: dict[str, str], server) -> None:
    """Run; once its first checkpoints are saved, stop the broker, then start it again."""
    log = folder / "stderr.log"
    with open(log, "wb") as err:
        process = subprocess.Popen(
            command(folder, params), cwd=folder, stdout=subprocess.DEVNULL, stderr=err
        )
        state = folder / ".rillet" / "p"
        while not (state.is_dir() and len(list(state.glob("checkpoint-*"))) >= 2):
            assert process.poll() is None, log.read_text()
            time.sleep(0.02)
        stop(server)
        time.sleep(1.0)  # the run retries meanwhile
        assert process.poll() is None, log.read_text()
        ensure(server)
        process.wait(timeout=180)
    assert process.returncode == 0, log.read_text()


@pytest.mark.timeout(600)
def test_redis_restarted_mid_run_is_waited_for_and_nothing_is_lost(
    redis_stream: tuple[str, list[str]], tmp_path: Path
) -> None:
    stream, _ = redis_stream
    dirs = folders(tmp_path, HEAD.format(url=REDIS.url) + REDIS_SOURCE + WINDOWED)
    run_to_completion(dirs["reference"], {"stream": stream, "group": "reference"})
    run_through_a_restart(dirs["other"], {"stream": stream, "group": "restarted"}, REDIS)
    assert outputs(dirs["other"]) == outputs(dirs["reference"])
    assert redis_pending(stream, "restarted") == 0


@pytest.mark.timeout(600)
def test_nats_restarted_mid_run_is_waited_for_and_nothing_is_lost(
    nats_streams: str, data: list[bytes], tmp_path: Path
) -> None:
    # stateless: a message the server sent as it stopped comes back after `ack_wait`, out of
    # event-time order, which a window could take as late
    dirs = folders(tmp_path, HEAD.format(url=NATS.url) + NATS_SOURCE + STATELESS)
    reference = fill_nats(f"{nats_streams}_REFERENCE", data)
    restarted = fill_nats(f"{nats_streams}_RESTARTED", data)
    run_to_completion(dirs["reference"], reference)
    run_through_a_restart(dirs["other"], restarted, NATS)
    want = outputs(dirs["reference"], reference["stream"])
    got = outputs(dirs["other"], restarted["stream"])
    assert sorted(got[0].splitlines()) == sorted(want[0].splitlines())
    assert got[1] == want[1]
    assert nats_counts(restarted["stream"], restarted["group"]) == (0, 0)
