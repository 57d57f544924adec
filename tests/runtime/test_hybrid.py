"""The hybrid source (runtime/hybrid.py) over a real file and a real Redis stream: it keeps the
contract of every source (tests/stdlib/_source.py), with the input split between the history
file and the live stream at several points; its position names the part it is in; a commit
goes only to the part that owns the position; a position saved before the pipeline had a
`then` resumes the history; and `event_time` stops waiting for the history once the source
lists the live part's partitions.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis

from rillet.runtime import ManualClock
from rillet.runtime.clock import SystemClock
from rillet.runtime.connector import SourceContext
from rillet.runtime.connectors import build_source
from rillet.runtime.eventtime import EventTimeOperator
from rillet.runtime.hybrid import HybridSource, PartedHybridSource
from rillet.runtime.item import Batch, Origin
from rillet.runtime.operator import Output
from rillet.runtime.plan import Source, SourcePart
from tests.conftest import run_pipeline
from tests.servers import REDIS, ensure
from tests.stdlib._source import BATCH_SIZE, REGISTRY, SourceContract, read, records, run

GROUP = "g"


@pytest.fixture
def server() -> Iterator[redis.Redis]:
    ensure(REDIS)
    client = redis.Redis.from_url(REDIS.url)
    yield client
    client.close()


@pytest.fixture
def stream(server: redis.Redis) -> Iterator[str]:
    name = f"test-hybrid-{uuid.uuid4().hex[:12]}"
    yield name
    server.delete(name)


def hybrid(base_dir: Path, stream: str, batch_size: int = BATCH_SIZE) -> Any:
    """`file("history.jsonl") then redis_stream(...)`, built as the run builds it."""
    live = {"url": REDIS.url, "stream": stream, "group": GROUP, "until_empty": True}
    op = Source(
        "events", "file", {"path": "history.jsonl"}, then=(SourcePart("redis_stream", live),)
    )
    context = SourceContext(
        name="events",
        schema=None,
        clock=SystemClock(),
        base_dir=base_dir,
        batch_size=batch_size,
        batch_timeout_s=0.05,
    )
    return build_source(op, REGISTRY, context)


class SplitInput:
    """The first `history` records in the file, the rest in the stream. Not a group's place
    as a whole: a fresh instance reads the history again (only the live part keeps one)."""

    name, bounded, group = "hybrid", True, False

    def __init__(self, base_dir: Path, server: redis.Redis, stream: str, history: int) -> None:
        self.base_dir, self.server, self.stream, self.history = base_dir, server, stream, history

    def fill(self, records: list[dict]) -> None:
        head, tail = records[: self.history], records[self.history :]
        text = "".join(json.dumps(r) + "\n" for r in head)
        (self.base_dir / "history.jsonl").write_text(text)
        for r in tail:
            self.server.xadd(self.stream, {"data": json.dumps(r)})
        if not tail:
            self.server.xgroup_create(self.stream, GROUP, id="0", mkstream=True)

    def source(self) -> Any:
        return hybrid(self.base_dir, self.stream)


class TestHybridSplitInsideTheFirstBatchesContract(SourceContract):
    @pytest.fixture
    def input(self, tmp_path: Path, server: redis.Redis, stream: str) -> SplitInput:
        return SplitInput(tmp_path, server, stream, 130)


class TestHybridMostlyHistoryContract(SourceContract):
    @pytest.fixture
    def input(self, tmp_path: Path, server: redis.Redis, stream: str) -> SplitInput:
        return SplitInput(tmp_path, server, stream, 240)


def test_position_names_the_part_and_commits_reach_only_the_live_part(
    tmp_path: Path, server: redis.Redis, stream: str
) -> None:
    SplitInput(tmp_path, server, stream, 15).fill(records(0, 30))

    async def main() -> list[Any]:
        source = hybrid(tmp_path, stream, batch_size=10)
        assert isinstance(source, HybridSource) and not isinstance(source, PartedHybridSource)
        await source.open()
        seen = []
        history = source.position()
        try:
            while (batch := await read(source)) is not None:
                position = msgspec.json.decode(msgspec.json.encode(source.position()))
                live = position["part"] == 1 and len(batch) > 0
                before = server.xpending(stream, GROUP)["pending"] if live else None
                await source.commit(history)  # a checkpoint taken in the history, saved late
                await source.commit(position)
                after = server.xpending(stream, GROUP)["pending"] if live else None
                seen.append((len(batch), position["part"], position["read"], before, after))
        finally:
            await source.aclose()
        return seen

    # the history's two batches, the turn at the switch, then the live part's, each pending in
    # Redis until its commit; the file's offsets never reach Redis
    assert run(main) == [
        (10, 0, 10, None, None),
        (5, 0, 15, None, None),
        (0, 1, 0, None, None),
        (10, 1, 10, 10, 0),
        (5, 1, 15, 5, 0),
    ]


def test_a_position_from_before_the_then_resumes_the_history(
    tmp_path: Path, server: redis.Redis, stream: str
) -> None:
    """A batch pipeline given a live part resumes where its history stopped."""
    SplitInput(tmp_path, server, stream, 20).fill(records(0, 25))

    async def main() -> list[dict]:
        file_only = hybrid(tmp_path, stream, batch_size=10)
        await file_only.open()
        await read(file_only)
        saved = file_only.position()["at"]  # what a plain `file` source's checkpoint holds
        await file_only.aclose()
        source = hybrid(tmp_path, stream, batch_size=10)
        await source.open()
        source.seek(msgspec.json.decode(msgspec.json.encode(saved)))
        got: list[dict] = []
        try:
            while (batch := await read(source)) is not None:
                got += batch
        finally:
            await source.aclose()
        return got

    assert run(main) == records(10, 25)


def test_event_time_stops_waiting_for_a_part_the_source_no_longer_lists() -> None:
    op = EventTimeOperator("ts", 0, None, ManualClock())

    def process(ts: int, origin: Origin) -> int | None:
        out = Output()
        op.process(Batch([{"ts": ts}], [0], origin), 0, out)
        return out.watermark

    assert process(100, Origin("s", part="part1", parts=("part1",))) == 100
    live = ("0", "1")
    assert process(150, Origin("s", part="0", parts=live)) is None  # partition 1 unheard
    assert process(120, Origin("s", part="1", parts=live)) == 120  # the history holds nothing


def test_a_window_spanning_the_switch_counts_both_parts_and_the_switch_is_told(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Only the last part's end ends the input: the window open at the history's end stays
    open for the next part's records, and only then fires."""
    (tmp_path / "a.jsonl").write_text("".join(json.dumps({"ts": t}) + "\n" for t in (1, 5, 12)))
    (tmp_path / "b.jsonl").write_text("".join(json.dumps({"ts": t}) + "\n" for t in (14, 25)))
    text = """source clicks = file("a.jsonl") then file("b.jsonl")
sink out = file("out.jsonl")
clicks | event_time ts | window tumbling 10ms | aggregate { n = count() } | into out
"""
    with caplog.at_level("INFO", logger="rillet"):
        metrics = run_pipeline(text, tmp_path)
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(w["window_start"], w["n"]) for w in out] == [(0, 2), (10, 2), (20, 1)]
    source = metrics.nodes[0]
    assert (source.part, source.reading) == (2, 'part 2 of 2: file("b.jsonl")')
    assert 'source clicks: file("a.jsonl") read to its end (3 records); now reading ' in (
        caplog.text
    )


def test_after_drops_the_live_records_the_history_already_held_also_on_resume(
    tmp_path: Path, server: redis.Redis, stream: str, caplog: pytest.LogCaptureFixture
) -> None:
    """History up to ts 10, a stream replaying from ts 6: with `after ts`, only 11 on are read
    from the stream, also by a run resumed in the stream (the position keeps the times)."""
    (tmp_path / "h.jsonl").write_text("".join(json.dumps({"ts": t}) + "\n" for t in range(1, 11)))
    for t in range(6, 21):
        server.xadd(stream, {"data": json.dumps({"ts": t})})
    text = f"""set batch_size = 4
param stream = "s"
source clicks = file("h.jsonl") then redis_stream("{REDIS.url}", stream, group="g",
  until_empty=true) after ts
sink out = file("out.jsonl")
clicks | into out
"""
    with caplog.at_level("INFO", logger="rillet"):
        run_pipeline(text, tmp_path, {"stream": stream})
    out = [json.loads(line)["ts"] for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert out == list(range(1, 21))
    assert "now reading redis_stream(...), from `ts` after 10" in caplog.text

    async def resumed() -> list[int]:
        live = {"url": REDIS.url, "stream": stream, "group": "again", "until_empty": True}
        op = Source("clicks", "file", {"path": "h.jsonl"}, then=(SourcePart("redis_stream", live),))
        op = msgspec.structs.replace(op, after="ts")
        context = SourceContext("clicks", None, SystemClock(), tmp_path, 4, 0.05)
        first = build_source(op, REGISTRY, context)
        await first.open()
        while first.position()["part"] == 0 or first.position()["read"] < 4:
            await first.read_batch()
        saved = msgspec.json.decode(msgspec.json.encode(first.position()))
        await first.aclose()
        assert saved["newest"] == [10, 9]
        again = build_source(op, REGISTRY, context)
        await again.open()
        again.seek(saved)
        got: list[int] = []
        try:
            while (batch := await again.read_batch()) is not None:
                got += [r["ts"] for r in batch.records]
        finally:
            await again.aclose()
        return got

    assert run(resumed) == list(range(11, 21))
