"""`left join` by example (runtime/join.py): when a left record without partner comes out (the
watermark past its time + `within`, at once for a null key, at the end of the input for a join
without `within`), and with which fields (the right's by name when they are known, none added
when not). The DuckDB oracle (test_join_oracle.py) holds it to SQL on generated inputs."""

from __future__ import annotations

from pathlib import Path

from anyio import wait_all_tasks_blocked

from tests.runtime._collect import CollectSink
from tests.runtime._streams import FeedSource, drive

PIPELINE = """{schema}source l = file("unused-l.jsonl")
source r{typed} = file("unused-r.jsonl")
sink out = file("out.jsonl")
stream rs = r | event_time ts
l | event_time ts | left join rs on k{within} | into out
"""


def text(within: str = " within 10ms", schema: bool = False) -> str:
    return PIPELINE.format(
        schema="schema R { ts: int, k: int, b: str }\n" if schema else "",
        typed=": R" if schema else "",
        within=within,
    )


def test_a_left_record_comes_out_alone_once_the_watermark_is_past_its_time_plus_within(
    tmp_path: Path,
) -> None:
    left, right, out = FeedSource(), FeedSource(), CollectSink()

    async def step(source: FeedSource, records: list[dict], expect: list[dict]) -> None:
        before = len(out.records)
        source.feed(records)
        await wait_all_tasks_blocked()
        assert out.records[before:] == expect

    async def script() -> None:
        await step(left, [{"ts": 0, "k": 1, "a": "l0"}], [])
        await step(right, [{"ts": 10, "k": 2}], [])  # the watermark: min(0, 10)
        await step(left, [{"ts": 20, "k": 3, "a": "l20"}], [])  # 10: not past 0 + 10 yet
        paired = {"ts": 0, "k": 1, "a": "l0", "rs_ts": 10, "b": "r10"}
        await step(right, [{"ts": 10, "k": 1, "b": "r10"}], [paired])  # so it still pairs
        await step(right, [{"ts": 21, "k": 9}], [])  # 20: past 0 + 10, but l0 was paired
        await step(left, [{"ts": 40, "k": 9, "a": "l40"}], [])  # 19 from r21: too far
        await step(right, [{"ts": 31, "k": 0}], [{"ts": 20, "k": 3, "a": "l20"}])  # 31 > 30
        await step(left, [{"ts": 41, "k": None, "a": "null"}], [{"ts": 41, "k": None, "a": "null"}])
        left.end()
        right.end()

    drive(tmp_path, text(), script, sources={"l": left, "r": right}, sinks={"out": out})
    assert out.records[-1] == {"ts": 40, "k": 9, "a": "l40"}  # at the end of the input


def test_the_right_fields_are_null_by_name_when_known(tmp_path: Path) -> None:
    left, right, out = FeedSource(), FeedSource(), CollectSink()

    async def script() -> None:
        left.feed([{"ts": 0, "k": 1, "a": "l0"}, {"ts": 5, "k": None, "b": "mine"}])
        right.feed([{"ts": 100, "k": 2, "b": "r"}])
        await wait_all_tasks_blocked()
        left.end()
        right.end()

    sources = {"l": left, "r": right}
    drive(tmp_path, text(schema=True), script, sources=sources, sinks={"out": out})
    assert out.records == [
        {"ts": 5, "k": None, "b": "mine", "rs_ts": None, "rs_b": None},  # at once, renamed
        {"ts": 0, "k": 1, "a": "l0", "rs_ts": None, "b": None},  # the key is the left's
    ]


def test_a_regular_left_join_writes_its_left_records_without_partner_at_the_end_only(
    tmp_path: Path,
) -> None:
    left, right, out = FeedSource(), FeedSource(), CollectSink()

    async def script() -> None:
        left.feed([{"ts": 0, "k": 1, "a": "l0"}, {"ts": 1, "k": 2, "a": "l1"}])
        right.feed([{"ts": 10_000_000, "k": 1, "b": "much later"}])
        await wait_all_tasks_blocked()
        assert out.records == [{"ts": 0, "k": 1, "a": "l0", "rs_ts": 10_000_000, "b": "much later"}]
        right.feed([{"ts": 20_000_000, "k": 3}])
        await wait_all_tasks_blocked()
        assert len(out.records) == 1  # however far the watermark goes
        left.end()
        right.end()

    sources = {"l": left, "r": right}
    drive(tmp_path, text(within=""), script, sources=sources, sinks={"out": out})
    assert out.records[1:] == [{"ts": 1, "k": 2, "a": "l1"}]  # as it is: no right fields known
