"""A finished windowed pipeline over a broker with `until_empty=true`, run again after entries
were added: every new entry is counted in the output, and none is acknowledged that no saved
checkpoint covers. Once as one process over Redis and over NATS, once as two workers over Redis
(real servers, tests/servers.py)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import anyio
import nats

from tests.conftest import rillet
from tests.servers import NATS, REDIS, ensure, redis_client

ENTRIES = 200
FLOW = """set checkpoint_interval = 50ms
sink out = file("out/out.jsonl")
clicks | event_time ts | window tumbling 5s | aggregate by page { n = count() } | into out
"""


def clicks(count: int, first: int = 0) -> list[bytes]:
    """`count` clicks from the `first`, 100 ms apart: each call's come after the last's."""
    return [
        json.dumps({"ts": 1_000 + i * 100, "page": f"/p{i % 4}"}).encode()
        for i in range(first, first + count)
    ]


def counted(folder: Path) -> int:
    """Records counted by the windows in every output file (one per worker)."""
    return sum(
        json.loads(line)["n"]
        for path in (folder / "out").glob("*.jsonl")
        for line in path.read_text().splitlines()
    )


def run(folder: Path, *extra: str) -> None:
    done = rillet("run", "-q", "p.rill", *extra, cwd=folder, timeout=120)
    assert done.returncode == 0, done.stderr.decode()


def redis_source(stream: str, group: str) -> str:
    return (
        f'source clicks = redis_stream("{REDIS.url}", "{stream}", group="{group}", '
        "until_empty=true)\n"
    )


def test_redis_rerun_after_entries_were_added_counts_them_all(tmp_path: Path) -> None:
    stream = f"rerun-{uuid.uuid4().hex[:10]}"
    client = redis_client()
    (tmp_path / "p.rill").write_text(redis_source(stream, "ux") + FLOW)
    run(tmp_path)  # the stream is empty: nothing to count
    for payload in clicks(ENTRIES):
        client.xadd(stream, {"data": payload})
    run(tmp_path)
    assert counted(tmp_path) == ENTRIES
    assert client.xpending(stream, "ux")["pending"] == 0
    client.delete(stream)


def test_two_workers_rerun_after_entries_were_added_count_them_all(tmp_path: Path) -> None:
    stream = f"rerun-{uuid.uuid4().hex[:10]}"
    client = redis_client()
    (tmp_path / "p.rill").write_text(redis_source(stream, "ux") + FLOW)
    workers = ("--workers", "2", "--broker", REDIS.url, "--group", stream)
    run(tmp_path, *workers)
    for payload in clicks(ENTRIES):
        client.xadd(stream, {"data": payload})
    run(tmp_path, *workers)
    assert counted(tmp_path) == ENTRIES
    assert client.xpending(stream, "ux")["pending"] == 0
    for payload in clicks(ENTRIES, ENTRIES):  # and once more: each run goes on from the last
        client.xadd(stream, {"data": payload})
    run(tmp_path, *workers)
    assert counted(tmp_path) == 2 * ENTRIES
    client.delete(stream)


def test_nats_rerun_after_messages_were_added_counts_them_all(tmp_path: Path) -> None:
    ensure(NATS)
    name = f"RERUN_{uuid.uuid4().hex[:10].upper()}"
    subject = name.lower()

    async def publish(count: int) -> None:
        nc = await nats.connect(NATS.url)
        try:
            js = nc.jetstream()
            if count == 0:
                await js.add_stream(name=name, subjects=[subject])
            for payload in clicks(count):
                await js.publish(subject, payload)
        finally:
            await nc.close()

    async def unacknowledged() -> int:
        nc = await nats.connect(NATS.url)
        try:
            info = await nc.jetstream().consumer_info(name, name)
            return info.num_pending + info.num_ack_pending
        finally:
            await nc.close()

    async def delete() -> None:
        nc = await nats.connect(NATS.url)
        try:
            await nc.jetstream().delete_stream(name)
        finally:
            await nc.close()

    anyio.run(publish, 0)
    (tmp_path / "p.rill").write_text(
        f'source clicks = nats("{NATS.url}", "{subject}", stream="{name}", durable="{name}", '
        "until_empty=true)\n" + FLOW
    )
    run(tmp_path)
    anyio.run(publish, ENTRIES)
    run(tmp_path)
    assert counted(tmp_path) == ENTRIES
    assert anyio.run(unacknowledged) == 0
    anyio.run(delete)
