"""The order of a `join`'s pairs: a record that completes several pairs at once emits them in the
order of the other side's event time, then arrival, so a `dedupe` after the join keeps the
earliest partner on both engines (docs/language.md §4.9, docs/flink.md)."""

from __future__ import annotations

from pathlib import Path

from anyio import wait_all_tasks_blocked

from tests.runtime._collect import CollectSink
from tests.runtime._streams import FeedSource, drive

JOIN_THEN_DEDUPE = """source l = file("unused-l.jsonl")
source r = file("unused-r.jsonl")
sink out = file("out.jsonl")
stream rs = r | event_time ts lateness 50ms
l | event_time ts lateness 50ms | join rs on k within 10ms{dedupe} | into out
"""


def _pairs_after(right: list[dict], dedupe: str, tmp_path: Path) -> list[dict]:
    """What the join (and `dedupe`) emit when `right` has arrived and then one left record."""
    left_feed, right_feed, out = FeedSource(), FeedSource(), CollectSink()

    async def script() -> None:
        right_feed.feed(right)
        await wait_all_tasks_blocked()
        left_feed.feed([{"ts": 100, "k": 1, "order": "o-1"}])
        await wait_all_tasks_blocked()
        left_feed.end()
        right_feed.end()

    drive(
        tmp_path,
        JOIN_THEN_DEDUPE.format(dedupe=dedupe),
        script,
        sources={"l": left_feed, "r": right_feed},
        sinks={"out": out},
    )
    return out.records


CLICKS = [
    {"ts": 98, "k": 1, "page": "/c"},
    {"ts": 93, "k": 1, "page": "/a"},
    {"ts": 96, "k": 1, "page": "/b"},
    {"ts": 93, "k": 1, "page": "/a2"},
]


def test_join_emits_the_pairs_of_a_record_in_the_other_sides_time_order(tmp_path: Path) -> None:
    got = _pairs_after(CLICKS, "", tmp_path)
    assert [(r["rs_ts"], r["page"]) for r in got] == [
        (93, "/a"),
        (93, "/a2"),
        (96, "/b"),
        (98, "/c"),
    ]


def test_dedupe_after_a_join_keeps_the_earliest_partner(tmp_path: Path) -> None:
    got = _pairs_after(CLICKS, " | dedupe by order within 1h", tmp_path)
    assert [r["page"] for r in got] == ["/a"]
