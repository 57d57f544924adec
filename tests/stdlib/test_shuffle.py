"""The shuffle's exactly-once rules against a real Redis and a real Kafka broker (Tansu), each
test run on both: a reader delivers an epoch only once its producer committed it, skips what a
crashed generation wrote, finishes a commit a crash cut off, and passes on the least watermark
of its producers and their end."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from rillet.runtime.clock import SystemClock
from rillet.runtime.connector import SinkContext, SourceContext
from rillet.stdlib.kafkabroker import KafkaBroker
from rillet.stdlib.kafkashuffle import KafkaShuffleSink, KafkaShuffleSource
from rillet.stdlib.redisbroker import RedisBroker
from rillet.stdlib.shuffle import ShuffleSink, ShuffleSource
from rillet.stdlib.shufflebook import ShuffleConfig
from tests.servers import KAFKA, REDIS, ensure, redis_client
from tests.stdlib._source import SourceContract, build

KEYS = ("user",)
CARRIERS = {
    "redis": (RedisBroker, ShuffleConfig, ShuffleSink, ShuffleSource),
    "kafka": (KafkaBroker, ShuffleConfig, KafkaShuffleSink, KafkaShuffleSource),
}


@dataclass(frozen=True)
class On:
    """One test's shuffle: the broker that carries it and the group's prefix."""

    broker: Any
    prefix: str

    def config(self, keys: list[str] | None = None) -> Any:
        config_type = CARRIERS[self.broker.url.partition(":")[0]][1]
        return config_type(self.broker.url, self.prefix, keys or [])

    def producer(self, worker: int, workers: int = 1, keys: tuple[str, ...] = KEYS) -> Any:
        sink = CARRIERS[self.broker.url.partition(":")[0]][2]
        return sink(self.config(list(keys)), SinkContext("edge", Path("."), worker, workers))

    def reader(self, worker: int = 0, workers: int = 1) -> Any:
        source = CARRIERS[self.broker.url.partition(":")[0]][3]
        clock = SystemClock()
        context = SourceContext("edge", None, clock, Path("."), 100, 0.01, worker, workers)
        return source(self.config(), context)


@pytest.fixture(params=sorted(CARRIERS))
def on(request: pytest.FixtureRequest, tmp_path: Path) -> On:
    if request.param == "redis":
        redis_client()
        broker: Any = RedisBroker(REDIS.url)
    else:
        broker = KafkaBroker(f"kafka://{ensure(KAFKA).url}")
    name = f"rillet-test:{tmp_path.name}"
    yield On(broker, name)
    anyio.run(broker.clear, name, SystemClock())


@dataclass
class Seen:
    records: list[dict] = field(default_factory=list)
    watermark: int | None = None
    """The last watermark passed on."""
    idle: bool = False
    ended: bool = False


async def settle(source: Any, quiet_s: float = 0.5) -> Seen:
    """What the reader delivers until nothing new has come for `quiet_s` (it stops at what
    must wait). Redis answers a read with what was just written; a Kafka consumer fetches it
    some milliseconds later."""
    seen = Seen()
    news = time.monotonic()
    while time.monotonic() - news < quiet_s:
        batch = await source.read_batch()
        if batch is None:
            seen.ended = True
            break
        if batch.records or batch.watermark is not None or batch.idle:
            news = time.monotonic()
        seen.records += batch.records
        seen.watermark = seen.watermark if batch.watermark is None else batch.watermark
        seen.idle |= batch.idle
    return seen


async def read_all(source: Any) -> list[dict]:
    return (await settle(source)).records


def test_an_epoch_is_delivered_once_its_producer_committed_it(on: On) -> None:
    async def main() -> None:
        sink, source = on.producer(0), on.reader()
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


def test_a_commit_covers_the_epochs_before_it(on: On) -> None:
    """The runtime commits only the newest of several checkpoints saved at once."""

    async def main() -> None:
        sink, source = on.producer(0), on.reader()
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
        restarted = on.producer(0)
        restarted.restore(saved)
        await restarted.open()
        assert await read_all(source) == [{"user": 1, "n": 3}, {"user": 1, "n": 4}]
        await restarted.aclose()
        await source.aclose()

    anyio.run(main)


def test_what_a_crashed_generation_wrote_is_skipped_and_its_replay_delivered(on: On) -> None:
    async def main() -> None:
        first = on.producer(0)
        await first.open()
        await first.write([{"user": 1, "n": 1}])
        saved = await first.precommit()
        await first.commit(saved)
        await first.write([{"user": 1, "n": "lost in the crash"}])  # epoch 2, never saved
        await first.aclose()
        second = on.producer(0)
        second.restore(saved)
        await second.open()
        await second.write([{"user": 1, "n": 2}])  # epoch 2 again, by the new generation
        await second.commit(await second.precommit())
        source = on.reader()
        await source.open()
        assert await read_all(source) == [{"user": 1, "n": 1}, {"user": 1, "n": 2}]
        await second.aclose()
        await source.aclose()

    anyio.run(main)


def test_a_commit_cut_off_by_a_crash_is_made_on_restart(on: On) -> None:
    async def main() -> None:
        first = on.producer(0)
        await first.open()
        await first.write([{"user": 3, "n": 1}])
        saved = await first.precommit()  # the manifest holds this, then the process dies
        await first.aclose()
        source = on.reader()
        await source.open()
        assert await read_all(source) == []
        second = on.producer(0)
        second.restore(saved)
        await second.open()
        assert await read_all(source) == [{"user": 3, "n": 1}]
        await second.aclose()
        await source.aclose()

    anyio.run(main)


def test_the_least_watermark_of_all_producers_and_their_end_pass_on(on: On) -> None:
    async def main() -> None:
        sinks = [on.producer(w, 2) for w in range(2)]
        source = on.reader(0, 2)
        await source.open()
        for sink in sinks:
            await sink.open()
        await sinks[0].watermark(5_000)
        await sinks[0].commit(await sinks[0].precommit())
        assert (await settle(source)).watermark is None, "worker 1 has said nothing yet"
        await sinks[1].watermark(3_000)
        await sinks[1].commit(await sinks[1].precommit())
        assert (await settle(source)).watermark == 3_000
        position = source.position()
        await sinks[1].end_of_input()
        await sinks[1].commit(await sinks[1].precommit())
        assert (await settle(source)).watermark == 5_000, "an ended worker holds none back"
        await sinks[0].end_of_input()
        await sinks[0].commit(await sinks[0].precommit())
        assert (await settle(source)).ended, "every producer ended"
        resumed = on.reader(0, 2)
        resumed.seek(position)
        await resumed.open()
        # from the position: both ends at once, which end the input (no watermark says it)
        seen = await settle(resumed)
        assert (seen.watermark, seen.ended) == (None, True)
        for connector in (*sinks, source, resumed):
            await connector.aclose()

    anyio.run(main)


# -- the source contract (_source.py) ----------------------------------------------------------


class ShuffleInput:
    """One partition of a shuffle, fed by its one producer: each record its own entry (so a read
    of `READ_COUNT` entries is a batch of part of the input), then the producer's end, committed
    as its checkpoint would be."""

    bounded, group = True, False

    def __init__(self, on: On) -> None:
        self.on = on
        self.name = on.broker.shuffle

    def fill(self, records: list[dict]) -> None:
        async def main() -> None:
            sink = self.on.producer(0, keys=("n",))
            await sink.open()
            try:
                for record in records:
                    await sink.write([record])
                await sink.end_of_input()
                await sink.commit(await sink.precommit())
            finally:
                await sink.aclose()

        anyio.run(main)

    def source(self) -> Any:
        config = {"broker": self.on.broker.url, "prefix": self.on.prefix}
        return build(self.name, config, name="edge")


class TestShuffleSourceContract(SourceContract):
    @pytest.fixture
    def input(self, on: On) -> ShuffleInput:
        return ShuffleInput(on)


def test_an_idle_producer_holds_no_watermark_back_until_it_sends_again(on: On) -> None:
    """A worker whose input went quiet (`idle` of `event_time`) says so through the shuffle:
    the other worker's watermark then passes alone, so the last windows are written; when the
    quiet worker sends again it counts again, and when every worker is idle so is the shuffle."""

    async def main() -> None:
        sinks = [on.producer(w, 2) for w in range(2)]
        source = on.reader(0, 2)
        await source.open()
        for sink in sinks:
            await sink.open()

        async def step() -> Seen:
            """Both workers take a checkpoint (their entries are read only then); a read."""
            for sink in sinks:
                await sink.commit(await sink.precommit())
            return await settle(source)

        await sinks[0].watermark(1_000)
        await sinks[1].watermark(1_000)
        await step()
        await sinks[0].idle()
        await sinks[1].watermark(9_000)
        seen = await step()
        assert (seen.watermark, seen.idle) == (9_000, False), "worker 0 is idle"
        position = msgspec.json.decode(msgspec.json.encode(source.position()))
        await sinks[0].watermark(9_500)
        await sinks[1].watermark(20_000)
        assert (await step()).watermark == 9_500, "worker 0 sends again: it counts again"
        await sinks[0].idle()
        await sinks[1].idle()
        seen = await step()
        # every worker is idle: the largest watermark one sent stands, and the shuffle is idle
        assert (seen.watermark, seen.idle) == (20_000, True)
        assert not (await step()).idle, "said once"
        resumed = on.reader(0, 2)
        await resumed.open()
        resumed.seek(position)
        assert resumed.producers.idle == {0}, "a checkpoint keeps who is idle"
        for connector in (*sinks, source, resumed):
            await connector.aclose()

    anyio.run(main)
