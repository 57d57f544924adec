"""The `nats` connector (stdlib/nats.py) against a real NATS JetStream server
(tests/servers.py): the source pulls through a durable consumer in batches, decodes JSON messages
with their stream sequences as offsets, acknowledges only in `commit`, and after a crash takes
what the server redelivers: the covered messages are acknowledged, the others read again, before
newer ones; the sink publishes with JetStream acknowledgements; a server that is down at start
is one clear error, one restarted mid-run is waited for.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import anyio
import nats
import pytest

from rillet.runtime import SystemClock
from rillet.runtime.connector import ConnectorError, SinkContext, SourceBatch, SourceContext
from rillet.stdlib.nats import NatsSource, NatsSourceConfig
from rillet.stdlib.natssequences import covers, merge, ranges
from rillet.stdlib.natssink import NatsSink, NatsSinkConfig
from tests.servers import NATS, ensure, stop
from tests.stdlib._source import SourceContract, build


@pytest.fixture
def subject() -> str:
    ensure(NATS)
    name = f"test.{uuid.uuid4().hex[:12]}"
    yield name

    async def delete() -> None:
        nc = await nats.connect(NATS.url)
        try:
            await nc.jetstream().delete_stream(stream_of(name))
        finally:
            await nc.close()

    ensure(NATS)
    anyio.run(delete)


def stream_of(subject: str) -> str:
    return subject.replace(".", "_").upper()


async def publish(subject: str, payloads: list[bytes]) -> list[int]:
    nc = await nats.connect(NATS.url)
    try:
        js = nc.jetstream()
        try:
            await js.stream_info(stream_of(subject))
        except nats.js.errors.NotFoundError:
            await js.add_stream(name=stream_of(subject), subjects=[subject])
        return [(await js.publish(subject, p)).seq for p in payloads]
    finally:
        await nc.close()


def publish_records(subject: str, records: list[dict]) -> list[int]:
    return anyio.run(publish, subject, [json.dumps(r).encode() for r in records])


def consumer_counts(subject: str) -> tuple[int, int]:
    """(messages not yet delivered, messages delivered and not acknowledged)."""

    async def info() -> tuple[int, int]:
        nc = await nats.connect(NATS.url)
        try:
            ci = await nc.jetstream().consumer_info(stream_of(subject), "d")
            return ci.num_pending, ci.num_ack_pending
        finally:
            await nc.close()

    return anyio.run(info)


def make_source(subject: str, batch_size: int = 10, **options: Any) -> NatsSource:
    options = {"url": NATS.url, "durable": "d", "until_empty": True, "ack_wait": 500, **options}
    context = SourceContext(
        name="events",
        schema=None,
        clock=SystemClock(),
        base_dir=Path("."),
        batch_size=batch_size,
        batch_timeout_s=0.05,
    )
    return NatsSource(NatsSourceConfig(subject=subject, **options), context)


async def drain(source: NatsSource) -> list[SourceBatch]:
    batches = []
    while (batch := await source.read_batch()) is not None:
        batches.append(batch)
    return batches


def offsets_of(batches: list[SourceBatch]) -> list[int]:
    return [o for b in batches for o in b.offsets]


def read_all(source: NatsSource, commit: bool = False) -> list[SourceBatch]:
    async def body() -> list[SourceBatch]:
        await source.open()
        try:
            batches = await drain(source)
            if commit:
                await source.commit(source.position())
            return batches
        finally:
            await source.aclose()

    return anyio.run(body)


def test_ranges_of_sequences_and_their_union() -> None:
    assert ranges([7, 3, 4, 5, 9, 8, 1]) == [[1, 1], [3, 5], [7, 9]]
    assert ranges([]) == []
    runs = merge([[1, 3], [10, 12]], [[4, 4], [8, 9], [20, 20]])
    assert runs == [[1, 4], [8, 12], [20, 20]]
    firsts = [first for first, _ in runs]
    assert [s for s in range(0, 22) if covers(runs, firsts, s)] == [
        1,
        2,
        3,
        4,
        8,
        9,
        10,
        11,
        12,
        20,
    ]


def test_source_reads_json_messages_in_batches_with_stream_sequences(subject) -> None:
    sequences = publish_records(subject, [{"n": i} for i in range(25)])
    source = make_source(subject)
    batches = read_all(source)
    assert [r for b in batches for r in b.records] == [{"n": i} for i in range(25)]
    assert offsets_of(batches) == sequences
    assert max(len(b.records) for b in batches) == 10
    assert source.position() == [[sequences[0], sequences[-1]]]
    assert consumer_counts(subject) == (0, 25)  # delivered, none acknowledged without a commit


def test_following_source_hands_on_what_came_without_waiting_for_batch_timeout(subject) -> None:
    publish_records(subject, [{"n": i} for i in range(3)])
    config = NatsSourceConfig(subject=subject, url=NATS.url, durable="d", ack_wait=500)
    context = SourceContext("events", None, SystemClock(), Path("."), 1000, batch_timeout_s=600)
    source = NatsSource(config, context)

    async def body() -> list[dict]:
        await source.open()
        records: list[dict] = []
        try:
            with anyio.fail_after(60):  # a guard against hanging: a batch may wait 600 s
                while len(records) < 3:
                    batch = await source.read_batch()
                    assert batch is not None
                    records += batch.records
            return records
        finally:
            await source.aclose()

    assert anyio.run(body) == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_malformed_messages_are_bad_records_with_their_sequences(subject) -> None:
    sequences = anyio.run(publish, subject, [b'{"n": 1}', b'{"n": 2', b"[1]", b"", b'{"n": 3}'])
    batches = read_all(make_source(subject), commit=True)
    assert [r for b in batches for r in b.records] == [{"n": 1}, {"n": 3}]
    assert offsets_of(batches) == [sequences[0], sequences[4]]
    bad = {b.offset: b for batch in batches for b in batch.bad}
    assert set(bad) == set(sequences[1:4])
    assert bad[sequences[1]].reason.startswith("malformed JSON")
    assert bad[sequences[1]].raw == '{"n": 2'
    assert bad[sequences[2]].reason == "expected a JSON object"
    assert bad[sequences[3]].reason == "empty message"
    assert consumer_counts(subject) == (0, 0)


def test_commit_acknowledges_only_the_messages_its_position_covers(subject) -> None:
    publish_records(subject, [{"n": i} for i in range(30)])
    source = make_source(subject)

    async def body() -> tuple[int, list]:
        await source.open()
        try:
            await source.read_batch()
            covered = source.position()
            await source.read_batch()
            await source.commit(covered)
            return len(source.replies), source.position()
        finally:
            await source.aclose()

    held, position = anyio.run(body)
    assert held == 10
    assert consumer_counts(subject) == (10, 10)
    assert len(position) == 1 and position[0][1] - position[0][0] == 9


def test_messages_read_after_the_checkpoint_come_again_before_newer_ones(subject) -> None:
    sequences = publish_records(subject, [{"n": i} for i in range(30)])

    async def crashed() -> list:
        source = make_source(subject)
        await source.open()
        await source.read_batch()
        covered = source.position()  # the checkpoint that was saved
        await source.read_batch()  # read, sent on, never covered: the process dies here
        await source.aclose()
        return covered

    covered = anyio.run(crashed)
    assert consumer_counts(subject) == (10, 20)
    resumed = make_source(subject)

    async def resume() -> list[SourceBatch]:
        await resumed.open()
        resumed.seek(covered)
        try:
            batches = await drain(resumed)
            await resumed.commit(resumed.position())
            return batches
        finally:
            await resumed.aclose()

    batches = anyio.run(resume)
    assert offsets_of(batches) == sequences[10:]  # redelivered 10 first, then the last 10
    assert [r["n"] for b in batches for r in b.records] == list(range(10, 30))
    assert consumer_counts(subject) == (0, 0)


def test_messages_read_by_a_run_that_died_before_its_first_checkpoint_come_first(subject) -> None:
    """A run restarted with no checkpoint to resume from (it died within its first checkpoint
    interval) reads what the dead run had read before newer messages: read after them, those
    would be late for their windows, and dropped."""
    sequences = publish_records(subject, [{"n": i} for i in range(30)])

    async def crashed() -> None:
        source = make_source(subject)
        await source.open()
        await source.read_batch()  # read, sent on, never covered: the process dies here
        await source.aclose()

    anyio.run(crashed)
    assert consumer_counts(subject) == (20, 10)
    batches = read_all(make_source(subject), commit=True)  # no checkpoint: no `seek`
    assert offsets_of(batches) == sequences
    assert consumer_counts(subject) == (0, 0)


def test_a_server_that_is_down_at_start_is_one_clear_error() -> None:
    source = make_source("s", url="nats://127.0.0.1:1")
    with pytest.raises(ConnectorError) as caught:
        anyio.run(source.open)
    message = str(caught.value)
    assert message.startswith("source `events`: cannot connect to nats at nats://127.0.0.1:1")
    assert "is the server running" in message
    assert "\n" not in message


def make_sink(subject: str, **options: Any) -> NatsSink:
    return NatsSink(
        NatsSinkConfig(subject=subject, **{"url": NATS.url, **options}),
        SinkContext(name="out", base_dir=Path(".")),
    )


def test_sink_publishes_each_record_and_creates_the_stream(subject) -> None:
    sink = make_sink(subject)

    async def body() -> None:
        await sink.open()
        try:
            await sink.write([{"n": i} for i in range(2500)])
            await sink.write([])
            await sink.write([{"n": "last"}])
        finally:
            await sink.aclose()

    anyio.run(body)
    batches = read_all(make_source(subject, batch_size=1000), commit=True)
    records = [r for b in batches for r in b.records]
    assert records == [{"n": i} for i in range(2500)] + [{"n": "last"}]


def test_sink_down_at_start_is_one_clear_error() -> None:
    sink = make_sink("s", url="nats://127.0.0.1:1")
    with pytest.raises(ConnectorError, match=r"^sink `out`: cannot connect to nats at "):
        anyio.run(sink.open)


def test_source_and_sink_wait_for_a_restarted_server(subject) -> None:
    sequences = publish_records(subject, [{"n": i} for i in range(40)])
    source = make_source(subject, until_empty=False)
    sink = make_sink(f"{subject}.copy", stream=stream_of(subject) + "_COPY")

    async def body() -> list[int]:
        await source.open()
        await sink.open()
        seen: list[int] = []
        try:
            first = await source.read_batch()
            seen += first.offsets
            await sink.write(first.records)
            await anyio.to_thread.run_sync(stop, NATS)
            async with anyio.create_task_group() as tg:
                tg.start_soon(anyio.to_thread.run_sync, ensure, NATS)
                while len(seen) < 40:  # pulls end at their expiry until the server is back
                    batch = await source.read_batch()
                    seen += batch.offsets
                    await sink.write(batch.records)
            await source.commit(source.position())
        finally:
            await sink.aclose()
            await source.aclose()
        return seen

    seen = anyio.run(body)
    assert sorted(seen) == sequences
    assert consumer_counts(subject) == (0, 0)
    copy = read_all(
        make_source(f"{subject}.copy", stream=stream_of(subject) + "_COPY", batch_size=100)
    )
    assert sorted(r["n"] for b in copy for r in b.records) == list(range(40))

    async def delete_copy() -> None:
        nc = await nats.connect(NATS.url)
        try:
            await nc.jetstream().delete_stream(stream_of(subject) + "_COPY")
        finally:
            await nc.close()

    anyio.run(delete_copy)


# -- the source contract (_source.py) ----------------------------------------------------------


class JetStreamInput:
    name, bounded, group = "nats", True, True

    def __init__(self, subject: str) -> None:
        self.subject = subject

    def fill(self, records: list[dict]) -> None:
        publish_records(self.subject, records)

    def source(self) -> NatsSource:
        config = {
            "url": NATS.url,
            "subject": self.subject,
            "durable": "d",
            "until_empty": True,
            "ack_wait": 500,
        }
        return build("nats", config)


class TestNatsSourceContract(SourceContract):
    @pytest.fixture
    def input(self, subject: str) -> JetStreamInput:
        publish_records(subject, [])  # the stream, with no message yet (the empty input)
        return JetStreamInput(subject)
