"""The shuffle's exactly-once rules against a real Redis: a reader delivers an epoch only once
its producer committed it, skips what a crashed generation wrote, finishes a commit a crash cut
off, and passes on the least watermark of its producers and their end."""

from __future__ import annotations

from pathlib import Path

import anyio
import msgspec
import pytest

from rillet.runtime.clock import SystemClock
from rillet.runtime.connector import SinkContext, SourceBatch, SourceContext
from rillet.stdlib.shuffle import ShuffleConfig, ShuffleSink, ShuffleSource, clear
from tests.servers import REDIS, redis_client
from tests.stdlib._source import SourceContract, build

KEYS = ("user",)


@pytest.fixture
def prefix(tmp_path: Path) -> str:
    redis_client()
    name = f"rillet-test:{tmp_path.name}"
    yield name
    anyio.run(clear, REDIS.url, name, SystemClock())


def producer(prefix: str, worker: int, workers: int = 1) -> ShuffleSink:
    config = ShuffleConfig(REDIS.url, prefix, list(KEYS))
    return ShuffleSink(config, SinkContext("edge", Path("."), worker, workers))


def reader(prefix: str, worker: int = 0, workers: int = 1) -> ShuffleSource:
    context = SourceContext("edge", None, SystemClock(), Path("."), 100, 0.01, worker, workers)
    return ShuffleSource(ShuffleConfig(REDIS.url, prefix), context)


async def read_all(source: ShuffleSource) -> list[dict]:
    """Everything the reader can deliver now (it stops at what must wait)."""
    records: list[dict] = []
    for _ in range(5):
        batch = await source.read_batch()
        if batch is None:
            break
        records += batch.records
    return records


def test_an_epoch_is_delivered_once_its_producer_committed_it(prefix: str) -> None:
    async def main() -> None:
        sink, source = producer(prefix, 0), reader(prefix)
        await sink.open()
        await source.open()
        await sink.write([{"user": 1, "n": 1}, {"user": 2, "n": 2}])
        committed = await sink.precommit()
        assert await read_all(source) == [], "not before its checkpoint is saved"
        await sink.commit(committed)
        assert await read_all(source) == [{"user": 1, "n": 1}, {"user": 2, "n": 2}]
        assert await read_all(source) == [], "and only once"
        await sink.aclose()
        await source.aclose()

    anyio.run(main)


def test_a_commit_covers_the_epochs_before_it(prefix: str) -> None:
    """The runtime commits only the newest of several checkpoints saved at once."""

    async def main() -> None:
        sink, source = producer(prefix, 0), reader(prefix)
        await sink.open()
        await source.open()
        await sink.write([{"user": 1, "n": 1}])
        await sink.precommit()
        await sink.write([{"user": 1, "n": 2}])
        await sink.commit(await sink.precommit())
        assert await read_all(source) == [{"user": 1, "n": 1}, {"user": 1, "n": 2}]
        await sink.write([{"user": 1, "n": 3}])
        await sink.precommit()
        await sink.write([{"user": 1, "n": 4}])
        saved = await sink.precommit()  # saved, and the process dies before committing
        await sink.aclose()
        restarted = producer(prefix, 0)
        restarted.restore(saved)
        await restarted.open()
        assert await read_all(source) == [{"user": 1, "n": 3}, {"user": 1, "n": 4}]
        await restarted.aclose()
        await source.aclose()

    anyio.run(main)


def test_what_a_crashed_generation_wrote_is_skipped_and_its_replay_delivered(prefix: str) -> None:
    async def main() -> None:
        first = producer(prefix, 0)
        await first.open()
        await first.write([{"user": 1, "n": 1}])
        saved = await first.precommit()
        await first.commit(saved)
        await first.write([{"user": 1, "n": "lost in the crash"}])  # epoch 2, never saved
        await first.aclose()
        second = producer(prefix, 0)
        second.restore(saved)
        await second.open()
        await second.write([{"user": 1, "n": 2}])  # epoch 2 again, by the new generation
        await second.commit(await second.precommit())
        source = reader(prefix)
        await source.open()
        assert await read_all(source) == [{"user": 1, "n": 1}, {"user": 1, "n": 2}]
        await second.aclose()
        await source.aclose()

    anyio.run(main)


def test_a_commit_cut_off_by_a_crash_is_made_on_restart(prefix: str) -> None:
    async def main() -> None:
        first = producer(prefix, 0)
        await first.open()
        await first.write([{"user": 3, "n": 1}])
        saved = await first.precommit()  # the manifest holds this, then the process dies
        await first.aclose()
        source = reader(prefix)
        await source.open()
        assert await read_all(source) == []
        second = producer(prefix, 0)
        second.restore(saved)
        await second.open()
        assert await read_all(source) == [{"user": 3, "n": 1}]
        await second.aclose()
        await source.aclose()

    anyio.run(main)


def test_the_least_watermark_of_all_producers_and_their_end_pass_on(prefix: str) -> None:
    async def main() -> None:
        sinks = [producer(prefix, w, 2) for w in range(2)]
        source = reader(prefix, 0, 2)
        await source.open()
        for sink in sinks:
            await sink.open()
        await sinks[0].watermark(5_000)
        await sinks[0].commit(await sinks[0].precommit())
        batch = await source.read_batch()
        assert batch is not None and batch.watermark is None, "worker 1 has said nothing yet"
        await sinks[1].watermark(3_000)
        await sinks[1].commit(await sinks[1].precommit())
        batch = await source.read_batch()
        assert batch is not None and batch.watermark == 3_000
        position = source.position()
        await sinks[1].end_of_input()
        await sinks[1].commit(await sinks[1].precommit())
        batch = await source.read_batch()
        assert batch is not None and batch.watermark == 5_000, "an ended worker holds none back"
        await sinks[0].end_of_input()
        await sinks[0].commit(await sinks[0].precommit())
        assert await source.read_batch() is not None
        assert await source.read_batch() is None, "every producer ended"
        resumed = reader(prefix, 0, 2)
        resumed.seek(position)
        await resumed.open()
        # from the position: both ends at once, which end the input (no watermark says it)
        assert [b.watermark async for b in _batches(resumed)] == []
        assert await resumed.read_batch() is None
        for connector in (*sinks, source, resumed):
            await connector.aclose()

    anyio.run(main)


async def _batches(source: ShuffleSource):
    while (batch := await source.read_batch()) is not None:
        if batch.watermark is not None:
            yield batch


# -- the source contract (_source.py) ----------------------------------------------------------


class ShuffleInput:
    """One partition of a shuffle, fed by its one producer: each record its own entry (so a read
    of `READ_COUNT` entries is a batch of part of the input), then the producer's end, committed
    as its checkpoint would be."""

    name, bounded, group = "shuffle", True, False

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def fill(self, records: list[dict]) -> None:
        async def main() -> None:
            config = ShuffleConfig(REDIS.url, self.prefix, ["n"])
            sink = ShuffleSink(config, SinkContext("edge", Path(".")))
            await sink.open()
            try:
                for record in records:
                    await sink.write([record])
                await sink.end_of_input()
                await sink.commit(await sink.precommit())
            finally:
                await sink.aclose()

        anyio.run(main)

    def source(self) -> ShuffleSource:
        return build("shuffle", {"broker": REDIS.url, "prefix": self.prefix}, name="edge")


class TestShuffleSourceContract(SourceContract):
    @pytest.fixture
    def input(self, prefix: str) -> ShuffleInput:
        return ShuffleInput(prefix)


def test_an_idle_producer_holds_no_watermark_back_until_it_sends_again(prefix: str) -> None:
    """A worker whose input went quiet (`idle` of `event_time`) says so through the shuffle:
    the other worker's watermark then passes alone, so the last windows are written; when the
    quiet worker sends again it counts again, and when every worker is idle so is the shuffle."""

    async def main() -> None:
        sinks = [producer(prefix, w, 2) for w in range(2)]
        source = reader(prefix, 0, 2)
        await source.open()
        for sink in sinks:
            await sink.open()

        async def step() -> SourceBatch:
            """Both workers take a checkpoint (their entries are read only then); one read."""
            for sink in sinks:
                await sink.commit(await sink.precommit())
            batch = await source.read_batch()
            assert batch is not None
            return batch

        await sinks[0].watermark(1_000)
        await sinks[1].watermark(1_000)
        await step()
        await sinks[0].idle()
        await sinks[1].watermark(9_000)
        batch = await step()
        assert (batch.watermark, batch.idle) == (9_000, False), "worker 0 is idle"
        position = msgspec.json.decode(msgspec.json.encode(source.position()))
        await sinks[0].watermark(9_500)
        await sinks[1].watermark(20_000)
        batch = await step()
        assert batch.watermark == 9_500, "worker 0 sends again: it counts again"
        await sinks[0].idle()
        await sinks[1].idle()
        batch = await step()
        # every worker is idle: the largest watermark one sent stands, and the shuffle is idle
        assert (batch.watermark, batch.idle) == (20_000, True)
        batch = await step()
        assert not batch.idle, "said once"
        resumed = reader(prefix, 0, 2)
        await resumed.open()
        resumed.seek(position)
        assert resumed.producers.idle == {0}, "a checkpoint keeps who is idle"
        for connector in (*sinks, source, resumed):
            await connector.aclose()

    anyio.run(main)
