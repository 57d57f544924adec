"""Early rows of a window (`window ... emit every DUR`, runtime/window.py) on a `ManualClock`:
each open window's groups that received records since the last early rows come out every DUR
of the clock's time with `final` false, and every group once more with `final` true when the
window closes; those final rows are what the window writes without `emit every`. A test feeds
a `FeedSource`, moves the clock, and looks at the sink once every task is blocked, so what it
sees never depends on timing.
"""

from __future__ import annotations

from pathlib import Path

from anyio import wait_all_tasks_blocked
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rillet.runtime import ManualClock
from tests.conftest import run_pipeline
from tests.runtime._collect import CollectSink
from tests.runtime._streams import FeedSource, disordered, drive, write_jsonl

HOUR = 3_600_000
FLOW = """source s = file("in.jsonl")
sink out = file("out.jsonl")
s | event_time ts lateness {lateness}ms | {window} | {then} | into out
"""
SUMS = "aggregate by k { n = count(), total = sum(v) }"


def row(start: int, k: str, n: int, total: int, final: bool, size: int = HOUR) -> dict:
    bounds = {"window_start": start, "window_end": start + size}
    return {**bounds, "k": k, "n": n, "total": total, "final": final}


def fed(
    tmp_path: Path, text: str, steps: list, clock: ManualClock | None = None
) -> list[list[dict]]:
    """What the sink holds after each step: records to feed (a list), or seconds to move the
    clock by (a number); the input ends after the last step."""
    source, out, clock = FeedSource(), CollectSink(), clock or ManualClock()
    seen: list[list[dict]] = []

    async def script() -> None:
        for step in steps:
            if isinstance(step, list):
                source.feed(step)
            else:
                clock.advance(step)
            await wait_all_tasks_blocked()
            seen.append(out.records[len(sum(seen, [])) :])
        source.end()

    drive(tmp_path, text, script, clock=clock, sources={"s": source}, sinks={"out": out})
    seen.append(out.records[len(sum(seen, [])) :])
    return seen


def test_early_rows_come_as_the_clock_moves_and_only_for_groups_that_changed(
    tmp_path: Path,
) -> None:
    text = FLOW.format(lateness=0, window="window tumbling 1h emit every 10s", then=SUMS)
    steps = [
        [{"ts": 1000, "k": "a", "v": 1}, {"ts": 2000, "k": "b", "v": 2}],
        10,
        [{"ts": 3000, "k": "a", "v": 3}],
        10,
        10,  # nothing changed: nothing
        [{"ts": HOUR + 5, "k": "a", "v": 4}],  # the watermark closes the first hour
        9,  # not yet 10 s since the last early rows
        1,
    ]
    assert fed(tmp_path, text, steps) == [
        [],
        [row(0, "a", 1, 1, False), row(0, "b", 1, 2, False)],
        [],
        [row(0, "a", 2, 4, False)],
        [],
        [row(0, "a", 2, 4, True), row(0, "b", 1, 2, True)],
        [],
        [row(HOUR, "a", 1, 4, False)],  # the closed hour is not repeated
        [row(HOUR, "a", 1, 4, True)],  # at the end of the input
    ]


def test_a_record_changes_every_sliding_window_that_holds_it(tmp_path: Path) -> None:
    text = FLOW.format(lateness=0, window="window sliding 10s every 5s emit every 1s", then=SUMS)
    steps = [[{"ts": 12_000, "k": "a", "v": 1}], 1, [{"ts": 16_000, "k": "b", "v": 2}], 1]
    seen = fed(tmp_path, text, steps)
    early = [(r["window_start"], r["k"], r["n"]) for r in seen[1] + seen[3] if not r["final"]]
    assert early == [
        (5000, "a", 1),
        (10_000, "a", 1),
        (10_000, "b", 1),  # `a` in it has not changed
        (15_000, "b", 1),
    ]
    assert [(r["window_start"], r["k"], r["final"]) for r in seen[2]] == [(5000, "a", True)]


def test_a_processing_time_window_emits_early_and_closes_on_the_clock(tmp_path: Path) -> None:
    text = (
        'source s = file("in.jsonl")\nsink out = file("out.jsonl")\n'
        f"s | window tumbling 1m emit every 20s | {SUMS} | into out\n"
    )
    steps = [[{"k": "a", "v": 1}], 20, [{"k": "a", "v": 2}], 20, 20]
    seen = fed(tmp_path, text, steps, ManualClock(start_ms=HOUR))
    assert seen[1] == [row(HOUR, "a", 1, 1, False, size=60_000)]
    assert seen[3] == [row(HOUR, "a", 2, 3, False, size=60_000)]
    assert seen[4] == [row(HOUR, "a", 2, 3, True, size=60_000)]


def test_top_emits_its_current_records_early(tmp_path: Path) -> None:
    text = FLOW.format(lateness=0, window="window tumbling 1h emit every 10s", then="top 2 by v")
    steps = [[{"ts": 1, "v": 5}, {"ts": 2, "v": 3}], 10, [{"ts": 3, "v": 4}], 10]
    seen = fed(tmp_path, text, steps)
    assert [(r["rank"], r["v"], r["final"]) for r in seen[1]] == [(1, 5, False), (2, 3, False)]
    assert [(r["rank"], r["v"], r["final"]) for r in seen[3]] == [(1, 5, False), (2, 4, False)]
    assert [(r["rank"], r["ts"], r["final"]) for r in seen[4]] == [(1, 1, True), (2, 3, True)]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    disorder=st.integers(0, 20),
    window=st.sampled_from(["window tumbling 10ms", "window sliding 20ms every 5ms"]),
    data=st.data(),
)
def test_the_final_rows_are_what_the_window_writes_without_emit_every(
    tmp_path: Path, disorder: int, window: str, data: st.DataObject
) -> None:
    records = data.draw(disordered(disorder, min_ts=0))
    steps: list = []
    for record in records:  # one batch per record, and now and then a clock step
        steps.append([record])
        steps += data.draw(st.lists(st.sampled_from([1, 10]), max_size=1))
    early = FLOW.format(lateness=disorder, window=f"{window} emit every 1s", then=SUMS)
    rows = sum(fed(tmp_path, early, steps), [])
    write_jsonl(tmp_path / "in.jsonl", records)
    plain, out = FLOW.format(lateness=disorder, window=window, then=SUMS), CollectSink()
    run_pipeline(plain, tmp_path, sinks={"out": out})
    assert [{k: v for k, v in r.items() if k != "final"} for r in rows if r["final"]] == (
        out.records
    )
    assert all(r["final"] is False for r in rows if not r["final"])
