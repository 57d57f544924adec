"""The `redis_stream` connector (stdlib/redis_stream.py) against a real Redis server
(tests/servers.py): the source reads a consumer group in batches, decodes JSON entries (or an
entry's fields) with their stream ids as offsets, acknowledges only in `commit`, re-reads what a
crashed run left pending, takes over a dead consumer's entries; the sink appends with `XADD`;
a server that is down at start is one clear error, one that goes away mid-run is waited for.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis

from rillet.runtime import SystemClock
from rillet.runtime.connector import ConnectorError, SinkContext, SourceBatch, SourceContext
from rillet.runtime.plan import FieldSpec, SchemaSpec, TypeSpec
from rillet.runtime.schema import Schema
from rillet.stdlib.redis_stream import RedisStreamSource, RedisStreamSourceConfig
from rillet.stdlib.redisstreamsink import RedisStreamSink, RedisStreamSinkConfig
from tests.servers import REDIS, ensure, stop
from tests.stdlib._source import SourceContract, build

GROUP = "g"


@pytest.fixture
def server() -> redis.Redis:
    ensure(REDIS)
    client = redis.Redis.from_url(REDIS.url)
    yield client
    client.close()


@pytest.fixture
def stream(server: redis.Redis) -> str:
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    server.delete(name)


def add(server: redis.Redis, stream: str, records: list[dict]) -> list[str]:
    return [server.xadd(stream, {"data": json.dumps(r)}).decode() for r in records]


def pending(server: redis.Redis, stream: str) -> int:
    return server.xpending(stream, GROUP)["pending"]


def make_source(
    stream: str, batch_size: int = 10, schema: Schema | None = None, **options: Any
) -> RedisStreamSource:
    options = {"url": REDIS.url, "group": GROUP, "consumer": "c1", "until_empty": True, **options}
    config = RedisStreamSourceConfig(stream=stream, **options)
    context = SourceContext(
        name="events",
        schema=schema,
        clock=SystemClock(),
        base_dir=Path("."),
        batch_size=batch_size,
        batch_timeout_s=0.05,
    )
    return RedisStreamSource(config, context)


def run(body: Callable[[], Awaitable[Any]]) -> Any:
    return anyio.run(body)


async def drain(source: RedisStreamSource) -> list[SourceBatch]:
    batches = []
    while (batch := await source.read_batch()) is not None:
        batches.append(batch)
    return batches


def records_of(batches: list[SourceBatch]) -> list[dict]:
    return [r for b in batches for r in b.records]


def offsets_of(batches: list[SourceBatch]) -> list[str]:
    return [o for b in batches for o in b.offsets]


def test_source_reads_json_entries_in_batches_with_stream_ids_as_offsets(server, stream) -> None:
    ids = add(server, stream, [{"n": i} for i in range(25)])
    source = make_source(stream)

    async def body() -> list[SourceBatch]:
        await source.open()
        try:
            return await drain(source)
        finally:
            await source.aclose()

    batches = run(body)
    assert [len(b.records) for b in batches] == [10, 10, 5]
    assert records_of(batches) == [{"n": i} for i in range(25)]
    assert offsets_of(batches) == ids
    assert {b.file for b in batches} == {stream}
    assert source.position() == {"last": ids[-1], "claimed": []}
    assert pending(server, stream) == 25  # nothing acknowledged without a commit


def test_source_hands_on_the_entries_there_without_waiting_for_batch_timeout(
    server, stream
) -> None:
    add(server, stream, [{"n": i} for i in range(3)])
    config = RedisStreamSourceConfig(stream=stream, url=REDIS.url, group=GROUP, consumer="c1")
    context = SourceContext("events", None, SystemClock(), Path("."), 1000, batch_timeout_s=600)
    source = RedisStreamSource(config, context)

    async def body() -> SourceBatch | None:
        await source.open()
        try:
            with anyio.fail_after(60):  # a guard against hanging: a batch may wait 600 s
                return await source.read_batch()
        finally:
            await source.aclose()

    batch = run(body)
    assert batch is not None and batch.records == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_entries_without_the_field_are_records_of_their_fields(server, stream) -> None:
    first = server.xadd(stream, {"user": "7", "page": "/home"}).decode()
    second = server.xadd(stream, {"user": "x", "page": "/cart"}).decode()
    third = server.xadd(stream, {"payload": json.dumps({"user": 9, "page": "/"})}).decode()
    schema = Schema(
        SchemaSpec("Hit", (FieldSpec("user", TypeSpec("int")), FieldSpec("page", TypeSpec("str"))))
    )
    source = make_source(stream, schema=schema, field="payload")

    async def body() -> list[SourceBatch]:
        await source.open()
        try:
            return await drain(source)
        finally:
            await source.aclose()

    batches = run(body)
    assert records_of(batches) == [{"user": 7, "page": "/home"}, {"user": 9, "page": "/"}]
    assert offsets_of(batches) == [first, third]
    bad = [b for batch in batches for b in batch.bad]
    assert [(b.offset, b.raw) for b in bad] == [(second, '{"user":"x","page":"/cart"}')]
    assert "expected `int`" in bad[0].reason


def test_malformed_entries_are_bad_records_with_their_stream_ids(server, stream) -> None:
    good = add(server, stream, [{"n": 1}])
    torn = server.xadd(stream, {"data": '{"n": 2'}).decode()
    array = server.xadd(stream, {"data": "[1, 2]"}).decode()
    empty = server.xadd(stream, {"data": ""}).decode()
    deep = server.xadd(stream, {"data": '{"a": ' + "[" * 5000 + "]" * 5000 + "}"}).decode()
    good += add(server, stream, [{"n": 3}])
    source = make_source(stream)

    async def body() -> list[SourceBatch]:
        await source.open()
        try:
            return await drain(source)
        finally:
            await source.aclose()

    batches = run(body)
    assert records_of(batches) == [{"n": 1}, {"n": 3}]
    assert offsets_of(batches) == good
    bad = {b.offset: b for batch in batches for b in batch.bad}
    assert set(bad) == {torn, array, empty, deep}
    assert bad[torn].reason.startswith("malformed JSON")
    assert bad[torn].raw == '{"n": 2'
    assert bad[array].reason == "expected a JSON object"
    assert bad[empty].reason == "empty `data` field"
    assert bad[deep].reason == "JSON nested too deeply"


def test_commit_acknowledges_only_the_entries_its_position_covers(server, stream) -> None:
    add(server, stream, [{"n": i} for i in range(30)])
    source = make_source(stream)

    async def body() -> tuple[int, int]:
        await source.open()
        try:
            await source.read_batch()
            covered = source.position()
            await source.read_batch()
            await source.commit(covered)
            after_first = pending(server, stream)
            await drain(source)
            await source.commit(source.position())
            return after_first, pending(server, stream)
        finally:
            await source.aclose()

    assert run(body) == (10, 0)  # 20 read, the first 10 acknowledged


def test_entries_read_after_the_checkpoint_are_read_again_after_a_crash(server, stream) -> None:
    ids = add(server, stream, [{"n": i} for i in range(30)])

    async def crashed() -> dict:
        source = make_source(stream)
        await source.open()
        await source.read_batch()
        covered = source.position()  # the checkpoint that was saved
        await source.read_batch()  # read, sent on, never covered: the process dies here
        await source.aclose()
        return covered

    covered = run(crashed)
    assert pending(server, stream) == 20
    resumed = make_source(stream)

    async def resume() -> list[SourceBatch]:
        await resumed.open()
        resumed.seek(covered)
        try:
            batches = await drain(resumed)
            await resumed.commit(resumed.position())
            return batches
        finally:
            await resumed.aclose()

    batches = run(resume)
    assert offsets_of(batches) == ids[10:]
    assert records_of(batches) == [{"n": i} for i in range(10, 30)]
    assert pending(server, stream) == 0


def test_a_large_commit_is_acknowledged_a_few_pages_per_read_and_the_rest_at_close(
    server, stream
) -> None:
    """A checkpoint covering many entries must not hold the server (one script call for all of
    them stalled every client for a second at 100,000 entries/s), nor stall the reads."""
    pipe = server.pipeline(transaction=False)
    for i in range(5_500):
        pipe.xadd(stream, {"data": json.dumps({"n": i})})
    pipe.execute()
    source = make_source(stream, batch_size=1_000, until_empty=False)

    async def body() -> list[int]:
        await source.open()
        seen = []
        try:
            for _ in range(5):
                await source.read_batch()
            await source.commit(source.position())  # covers 5,000, acknowledges 1,000 now
            seen.append(pending(server, stream))
            await source.read_batch()  # reads the last 500, acknowledges 1,000 more
            seen.append(pending(server, stream))
        finally:
            await source.aclose()  # the remaining 3,000
        seen.append(pending(server, stream))
        return seen

    assert run(body) == [4_000, 3_500, 500]  # the last 500 read, not covered


def test_a_run_without_a_checkpoint_reads_its_pending_entries_first(server, stream) -> None:
    ids = add(server, stream, [{"n": i} for i in range(15)])
    server.xgroup_create(stream, GROUP, id="0")
    server.xreadgroup(GROUP, "c1", {stream: ">"}, count=5)  # an earlier run, never checkpointed
    source = make_source(stream, batch_size=100)

    async def body() -> list[SourceBatch]:
        await source.open()
        try:
            return await drain(source)
        finally:
            await source.aclose()

    batches = run(body)
    assert offsets_of(batches) == ids  # its 5 pending ones first, then the new ones


def test_entries_of_a_dead_consumer_are_claimed_and_covered_by_the_position(server, stream) -> None:
    ids = add(server, stream, [{"n": i} for i in range(12)])
    server.xgroup_create(stream, GROUP, id="0")
    server.xreadgroup(GROUP, "dead", {stream: ">"}, count=4)  # then it died
    source = make_source(stream, batch_size=100, until_empty=False, claim_idle=50)

    async def body() -> tuple[list[str], dict]:
        await source.open()
        try:
            seen: list[str] = []
            while len(seen) < 12:  # the dead consumer's 4 come once they are 50 ms idle
                seen += (await source.read_batch()).offsets
            return seen, source.position()
        finally:
            await source.aclose()

    seen, position = run(body)
    assert sorted(seen) == sorted(ids)
    assert sorted(position["claimed"]) == ids[:4]
    assert position["last"] == ids[-1]
    consumers = {c["name"].decode(): c["pending"] for c in server.xinfo_consumers(stream, GROUP)}
    assert consumers == {"dead": 0, "c1": 8, "c1:claimed": 4}
    resumed = make_source(stream)

    async def resume() -> list[SourceBatch]:
        await resumed.open()
        resumed.seek(position)
        try:
            return await drain(resumed)
        finally:
            await resumed.aclose()

    assert run(resume) == []  # the checkpoint covered all 12: acknowledged, none read again
    assert pending(server, stream) == 0


def test_claimed_entries_after_the_checkpoint_are_read_again(server, stream) -> None:
    ids = add(server, stream, [{"n": i} for i in range(3)])
    server.xgroup_create(stream, GROUP, id="0")
    server.xreadgroup(GROUP, "dead", {stream: ">"}, count=3)
    source = make_source(stream, until_empty=False, claim_idle=50)

    async def crashed() -> None:
        await source.open()
        try:
            got: list[str] = []
            while not got:
                got = (await source.read_batch()).offsets
            assert got == ids
        finally:
            await source.aclose()

    run(crashed)
    resumed = make_source(stream)

    async def resume() -> list[str]:
        await resumed.open()
        resumed.seek({"last": None, "claimed": []})  # a checkpoint from before the claim
        try:
            batches = await drain(resumed)
            await resumed.commit(resumed.position())
            return offsets_of(batches)
        finally:
            await resumed.aclose()

    assert run(resume) == ids
    assert pending(server, stream) == 0


def test_a_server_that_is_down_at_start_is_one_clear_error() -> None:
    source = make_source("s", url="redis://127.0.0.1:1/0")

    async def body() -> None:
        await source.open()

    with pytest.raises(ConnectorError) as caught:
        run(body)
    message = str(caught.value)
    assert message.startswith("source `events`: cannot connect to redis at redis://127.0.0.1:1/0")
    assert "is the server running" in message
    assert "\n" not in message


def make_sink(stream: str, **options: Any) -> RedisStreamSink:
    options = {"url": REDIS.url, **options}
    return RedisStreamSink(
        RedisStreamSinkConfig(stream=stream, **options), SinkContext(name="out", base_dir=Path("."))
    )


def test_sink_appends_each_record_as_json_and_trims_to_maxlen(server, stream) -> None:
    sink = make_sink(stream)

    async def body() -> None:
        await sink.open()
        try:
            await sink.write([{"n": 1, "s": "a"}, {"n": 2, "s": None}])
            await sink.write([])
            await sink.precommit()
        finally:
            await sink.aclose()

    run(body)
    entries = server.xrange(stream)
    assert [json.loads(fields[b"data"]) for _, fields in entries] == [
        {"n": 1, "s": "a"},
        {"n": 2, "s": None},
    ]
    trimmed = make_sink(stream, maxlen=10, field="doc")

    async def many() -> None:
        await trimmed.open()
        try:
            for i in range(50):
                await trimmed.write([{"n": i} for _ in range(100)])
        finally:
            await trimmed.aclose()

    run(many)
    assert server.xlen(stream) < 5002  # trimmed (approximately: whole nodes at a time)
    assert json.loads(server.xrevrange(stream, count=1)[0][1][b"doc"]) == {"n": 49}


def test_sink_down_at_start_is_one_clear_error() -> None:
    sink = make_sink("s", url="redis://127.0.0.1:1/0")
    with pytest.raises(ConnectorError, match=r"^sink `out`: cannot connect to redis at "):
        run(sink.open)


def test_source_waits_for_a_restarted_server_and_loses_nothing(server, stream) -> None:
    ids = add(server, stream, [{"n": i} for i in range(40)])
    source = make_source(stream, until_empty=False)

    async def body() -> list[str]:
        await source.open()
        seen: list[str] = []
        try:
            seen += (await source.read_batch()).offsets
            await anyio.to_thread.run_sync(stop, REDIS)
            async with anyio.create_task_group() as tg:
                tg.start_soon(anyio.to_thread.run_sync, ensure, REDIS)
                while len(seen) < 40:  # retried until the server is back
                    seen += (await source.read_batch()).offsets
            await source.commit(source.position())
        finally:
            await source.aclose()
        return seen

    seen = run(body)
    assert seen == ids
    ensure(REDIS)
    assert pending(server, stream) == 0


def test_sink_waits_for_a_restarted_server(server, stream) -> None:
    sink = make_sink(stream)

    async def body() -> None:
        await sink.open()
        try:
            await sink.write([{"n": 1}])
            await anyio.to_thread.run_sync(stop, REDIS)
            async with anyio.create_task_group() as tg:
                tg.start_soon(anyio.to_thread.run_sync, ensure, REDIS)
                await sink.write([{"n": 2}])
        finally:
            await sink.aclose()

    run(body)
    ensure(REDIS)
    assert [json.loads(f[b"data"]) for _, f in server.xrange(stream)] == [{"n": 1}, {"n": 2}]


# -- the source contract (_source.py) ----------------------------------------------------------


class StreamInput:
    name, bounded, group = "redis_stream", True, True

    def __init__(self, server: redis.Redis, stream: str) -> None:
        self.server, self.stream = server, stream

    def fill(self, records: list[dict]) -> None:
        add(self.server, self.stream, records)

    def source(self) -> RedisStreamSource:
        config = {
            "url": REDIS.url,
            "stream": self.stream,
            "group": GROUP,
            "consumer": "c1",
            "until_empty": True,
        }
        return build("redis_stream", config)


class TestRedisStreamSourceContract(SourceContract):
    @pytest.fixture
    def input(self, server: redis.Redis, stream: str) -> StreamInput:
        return StreamInput(server, stream)
