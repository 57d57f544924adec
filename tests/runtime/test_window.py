"""Windowed and global aggregation (runtime/window.py, runtime/aggregate.py, stdlib/aggregates.py)
by example: window bounds and alignment, when windows fire and in which order, sessions
merging, aggregates over nulls, late records, processing-time windows on a `ManualClock`, and
two event-time streams windowed together after a `union`.

Tests that watch windows fire feed a `FeedSource` while the run goes on and look at the sink
once every task is blocked, so what they see never depends on timing.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from anyio import wait_all_tasks_blocked

from rillet.runtime import ManualClock
from tests.conftest import run_pipeline
from tests.runtime._collect import CollectSink
from tests.runtime._streams import FeedSource, drive, write_jsonl

HOUR = 3_600_000


def windowed(
    tmp_path: Path, records: list[dict], flow: str, lateness: str = "0ms", **kwargs
) -> list[dict]:
    """The records a `flow` after `s | event_time ts lateness L` writes, fed `records`."""
    write_jsonl(tmp_path / "in.jsonl", records)
    out = CollectSink()
    run_pipeline(
        f'source s = file("in.jsonl")\nsink out = file("out.jsonl")\n'
        f"s | event_time ts lateness {lateness} {flow} | into out\n",
        tmp_path,
        sinks={"out": out},
        **kwargs,
    )
    return out.records


# -- bounds --------------------------------------------------------------------------------------


def test_tumbling_window_is_half_open_and_epoch_aligned(tmp_path: Path) -> None:
    base = 1_704_103_200_000  # 2024-01-01T10:00:00Z, on the hour
    records = [{"ts": base - 1}, {"ts": base}, {"ts": base + HOUR - 1}, {"ts": base + HOUR}]
    out = windowed(tmp_path, records, "| window tumbling 1h | aggregate { n = count() }")
    assert out == [
        {"window_start": base - HOUR, "window_end": base, "n": 1},
        {"window_start": base, "window_end": base + HOUR, "n": 2},
        {"window_start": base + HOUR, "window_end": base + 2 * HOUR, "n": 1},
    ]


def test_windows_align_to_epoch_before_1970(tmp_path: Path) -> None:
    out = windowed(
        tmp_path,
        [{"ts": -1}, {"ts": -10}, {"ts": -11}, {"ts": 0}],
        "| window tumbling 10ms | aggregate { n = count() }",
        lateness="20ms",
    )
    assert out == [
        {"window_start": -20, "window_end": -10, "n": 1},
        {"window_start": -10, "window_end": 0, "n": 2},
        {"window_start": 0, "window_end": 10, "n": 1},
    ]


def test_sliding_window_holds_each_event_size_over_every_times(tmp_path: Path) -> None:
    out = windowed(
        tmp_path,
        [{"ts": 12}, {"ts": 29}],
        "| window sliding 30ms every 10ms | aggregate { n = count(), ts = collect(ts) }",
    )
    assert out == [
        {"window_start": -10, "window_end": 20, "n": 1, "ts": [12]},
        {"window_start": 0, "window_end": 30, "n": 2, "ts": [12, 29]},
        {"window_start": 10, "window_end": 40, "n": 2, "ts": [12, 29]},
        {"window_start": 20, "window_end": 50, "n": 1, "ts": [29]},
    ]


def test_sliding_window_with_step_not_dividing_size_uses_common_panes(tmp_path: Path) -> None:
    out = windowed(
        tmp_path,
        [{"ts": t} for t in range(0, 30, 3)],
        "| window sliding 15ms every 10ms | aggregate { ts = collect(ts) }",
        lateness="30ms",
    )
    assert out == [
        {"window_start": -10, "window_end": 5, "ts": [0, 3]},
        {"window_start": 0, "window_end": 15, "ts": [0, 3, 6, 9, 12]},
        {"window_start": 10, "window_end": 25, "ts": [12, 15, 18, 21, 24]},
        {"window_start": 20, "window_end": 35, "ts": [21, 24, 27]},
    ]


def test_session_spans_first_event_to_last_event_plus_gap(tmp_path: Path) -> None:
    records = [
        {"ts": 0, "k": "a"},
        {"ts": 5, "k": "b"},
        {"ts": 9, "k": "a"},
        {"ts": 19, "k": "a"},
        {"ts": 28, "k": "a"},
    ]
    out = windowed(
        tmp_path,
        records,
        "| window session gap 10ms | aggregate by k { n = count() }",
        lateness="10ms",
    )
    # 19 is exactly one gap after 9: [9, 19) and [19, 29) only touch, so they do not merge
    assert out == [
        {"window_start": 5, "window_end": 15, "k": "b", "n": 1},
        {"window_start": 0, "window_end": 19, "k": "a", "n": 2},
        {"window_start": 19, "window_end": 38, "k": "a", "n": 2},
    ]


def test_late_record_bridging_two_sessions_merges_them(tmp_path: Path) -> None:
    records = [{"ts": 0, "v": 1}, {"ts": 15, "v": 2}, {"ts": 8, "v": 3}, {"ts": 50, "v": 4}]
    out = windowed(
        tmp_path,
        records,
        "| window session gap 10ms | aggregate { n = count(), vs = collect(v) }",
        lateness="20ms",
    )
    assert out == [
        {"window_start": 0, "window_end": 25, "n": 3, "vs": [1, 2, 3]},
        {"window_start": 50, "window_end": 60, "n": 1, "vs": [4]},
    ]


def test_session_values_keep_arrival_order_as_session_grows(tmp_path: Path) -> None:
    records = [{"ts": t, "v": v} for t, v in [(0, "a"), (4, "b"), (2, "c"), (8, "d")]]
    out = windowed(
        tmp_path,
        records,
        "| window session gap 5ms | aggregate { vs = collect(v), f = first(v), l = last(v) }",
        lateness="5ms",
    )
    assert out == [
        {"window_start": 0, "window_end": 13, "vs": ["a", "b", "c", "d"], "f": "a", "l": "d"}
    ]


# -- aggregates ----------------------------------------------------------------------------------


def test_aggregates_skip_nulls_and_missing_values(tmp_path: Path) -> None:
    records = [
        {"ts": 1, "v": None, "c": None},
        {"ts": 2},
        {"ts": 3, "v": 4, "c": "x"},
        {"ts": 4, "v": 2, "c": "x"},
        {"ts": 5, "v": None},
    ]
    out = windowed(
        tmp_path,
        records,
        """| window tumbling 10ms | aggregate {
        n = count(), total = sum(v), lo = min(v), hi = max(v), mean = avg(v),
        kinds = count_distinct(c), vs = collect(v), f = first(v), l = last(v),
        q = quantile(v, 0.5), big = count_if(v > 3) }""",
    )
    assert out == [
        {
            "window_start": 0,
            "window_end": 10,
            "n": 5,
            "total": 6,
            "lo": 2,
            "hi": 4,
            "mean": 3.0,
            "kinds": 1,
            "vs": [4, 2],
            "f": 4,
            "l": 2,
            "q": 3.0,
            "big": 1,
        }
    ]


def test_aggregates_of_only_nulls_are_null_and_counts_zero(tmp_path: Path) -> None:
    out = windowed(
        tmp_path,
        [{"ts": 1, "v": None}, {"ts": 2}],
        """| window tumbling 10ms
        | aggregate { n = count(), total = sum(v), mean = avg(v), lo = min(v), f = first(v),
                      q = quantile(v, 0.9), kinds = count_distinct(v), vs = collect(v) }""",
    )
    assert out == [
        {
            "window_start": 0,
            "window_end": 10,
            "n": 2,
            "total": None,
            "mean": None,
            "lo": None,
            "f": None,
            "q": None,
            "kinds": 0,
            "vs": [],
        }
    ]


@pytest.mark.parametrize(
    ("q", "expected"), [(0.0, 10.0), (0.25, 17.5), (0.5, 25.0), (0.9, 37.0), (1.0, 40.0)]
)
def test_quantile_is_exact_with_linear_interpolation(
    tmp_path: Path, q: float, expected: float
) -> None:
    records = [{"ts": i, "v": v} for i, v in enumerate([40, 10, None, 30, 20])]
    out = windowed(
        tmp_path, records, f"| window tumbling 10ms | aggregate {{ q = quantile(v, {q}) }}"
    )
    assert out[0]["q"] == pytest.approx(expected)


def test_window_aggregates_by_several_keys_and_expressions(tmp_path: Path) -> None:
    records = [
        {"ts": 1, "k": "a", "c": 1, "v": 2},
        {"ts": 2, "k": "a", "c": 2, "v": 4},
        {"ts": 3, "k": "a", "c": 1, "v": 6},
        {"ts": 4, "k": None, "c": 1, "v": 1},
    ]
    out = windowed(
        tmp_path,
        records,
        "| window tumbling 10ms | aggregate by k, c { n = count(), share = sum(v) / count() }",
    )
    assert out == [
        {"window_start": 0, "window_end": 10, "k": "a", "c": 1, "n": 2, "share": 4.0},
        {"window_start": 0, "window_end": 10, "k": "a", "c": 2, "n": 1, "share": 4.0},
        {"window_start": 0, "window_end": 10, "k": None, "c": 1, "n": 1, "share": 1.0},
    ]


def test_aggregate_without_window_emits_per_key_at_end_of_input(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "in.jsonl", [{"k": "b", "v": 1}, {"k": "a", "v": 2}, {"k": "b", "v": None}]
    )
    out = CollectSink()
    run_pipeline(
        'set batch_size = 1\nsource s = file("in.jsonl")\nsink out = file("o.jsonl")\n'
        "s | aggregate by k { n = count(), total = sum(v) } | into out\n",
        tmp_path,
        sinks={"out": out},
    )
    assert out.records == [{"k": "b", "n": 2, "total": 1}, {"k": "a", "n": 1, "total": 2}]


# -- firing --------------------------------------------------------------------------------------

FIRING = """source s = file("unused.jsonl")
sink out = file("out.jsonl")
s | event_time ts | window {window} | aggregate by k {{ n = count() }} | into out
"""


def test_windows_fire_when_watermark_reaches_end_keys_in_first_seen_order(tmp_path: Path) -> None:
    source, out = FeedSource(), CollectSink()

    async def script() -> None:
        source.feed([{"ts": 5, "k": "b"}, {"ts": 1, "k": "a"}, {"ts": 9, "k": "a"}])
        await wait_all_tasks_blocked()
        assert out.records == []
        source.feed([{"ts": 13, "k": "c"}, {"ts": 11, "k": "a"}])
        await wait_all_tasks_blocked()
        assert out.records == [
            {"window_start": 0, "window_end": 10, "k": "b", "n": 1},
            {"window_start": 0, "window_end": 10, "k": "a", "n": 2},
        ]
        source.feed([{"ts": 19, "k": "c"}])
        await wait_all_tasks_blocked()
        assert len(out.records) == 2  # [10, 20) is open until the watermark reaches 20
        source.feed([{"ts": 45, "k": "d"}])
        await wait_all_tasks_blocked()
        assert out.records[2:] == [
            {"window_start": 10, "window_end": 20, "k": "c", "n": 2},
            {"window_start": 10, "window_end": 20, "k": "a", "n": 1},
        ]
        source.end()

    drive(
        tmp_path,
        FIRING.format(window="tumbling 10ms"),
        script,
        sources={"s": source},
        sinks={"out": out},
    )
    assert out.records[4:] == [{"window_start": 40, "window_end": 50, "k": "d", "n": 1}]


def test_sliding_windows_fire_in_end_order_keys_in_first_seen_order(tmp_path: Path) -> None:
    source, out = FeedSource(), CollectSink()

    async def script() -> None:
        # "z" comes first in arrival but in the later pane of window [0, 10)
        source.feed([{"ts": 7, "k": "z"}, {"ts": 2, "k": "y"}, {"ts": 3, "k": "z"}])
        await wait_all_tasks_blocked()
        source.feed([{"ts": 10, "k": "y"}])
        await wait_all_tasks_blocked()
        assert [(r["window_end"], r["k"], r["n"]) for r in out.records] == [
            (5, "y", 1),
            (5, "z", 1),
            (10, "z", 2),
            (10, "y", 1),
        ]
        source.end()

    drive(
        tmp_path,
        FIRING.format(window="sliding 10ms every 5ms"),
        script,
        sources={"s": source},
        sinks={"out": out},
    )
    assert [(r["window_end"], r["k"], r["n"]) for r in out.records[4:]] == [
        (15, "z", 1),
        (15, "y", 1),
        (20, "y", 1),
    ]


def test_end_of_input_fires_every_open_window(tmp_path: Path) -> None:
    records = [{"ts": t, "k": "a"} for t in (0, 100, 200)]
    out = windowed(
        tmp_path, records, "| window tumbling 10ms | aggregate by k { n = count() }", lateness="1h"
    )
    assert [r["window_start"] for r in out] == [0, 100, 200]


def test_sessions_fire_in_end_order(tmp_path: Path) -> None:
    records = [
        {"ts": 0, "k": "long"},
        {"ts": 1, "k": "short"},
        {"ts": 8, "k": "long"},
        {"ts": 2, "k": "tie"},
        {"ts": 30, "k": "x"},
    ]
    out = windowed(
        tmp_path,
        records,
        "| window session gap 10ms | aggregate by k { n = count() }",
        lateness="10ms",
    )
    assert [(r["k"], r["window_end"]) for r in out] == [
        ("short", 11),
        ("tie", 12),
        ("long", 18),
        ("x", 40),
    ]


# -- late data -----------------------------------------------------------------------------------


def test_record_arriving_after_its_window_fired_goes_to_late_sink(tmp_path: Path) -> None:
    records = [{"ts": 3, "k": "a"}, {"ts": 12, "k": "a"}, {"ts": 5, "k": "a"}, {"ts": 10, "k": "a"}]
    write_jsonl(tmp_path / "in.jsonl", records)
    out = CollectSink()
    metrics = run_pipeline(
        'set batch_size = 1\nsource s = file("in.jsonl")\nsink out = file("out.jsonl")\n'
        "s | event_time ts | window tumbling 10ms | aggregate by k { n = count() }\n"
        "  | late into out | into out\n",
        tmp_path,
        sinks={"out": out},
    )
    # one sink for both shows the order: the window [0, 10) fired before 5 arrived
    assert out.records == [
        {"window_start": 0, "window_end": 10, "k": "a", "n": 1},
        {"ts": 5, "k": "a"},
        {"window_start": 10, "window_end": 20, "k": "a", "n": 2},
    ]
    (window,) = [m for m in metrics.nodes.values() if m.name.startswith("aggregate")]
    assert window.late == 1


def test_late_record_in_same_batch_is_judged_record_by_record(tmp_path: Path) -> None:
    records = [{"ts": 25}, {"ts": 4}, {"ts": 26}, {"ts": 14}]
    write_jsonl(tmp_path / "in.jsonl", records)
    out, late = CollectSink(), CollectSink()
    run_pipeline(
        'source s = file("in.jsonl")\nsink out = file("out.jsonl")\n'
        'sink late = file("late.jsonl")\n'
        "s | event_time ts lateness 10ms | window tumbling 10ms\n"
        "  | aggregate { n = count() } | late into late | into out\n",
        tmp_path,
        sinks={"out": out, "late": late},
    )
    # one batch: 4 is late (window [0, 10) ends at 10 <= 25 - 10); 14 is not (20 > 16)
    assert late.records == [{"ts": 4}]
    assert out.records == [
        {"window_start": 10, "window_end": 20, "n": 1},
        {"window_start": 20, "window_end": 30, "n": 2},
    ]


def test_late_records_are_dropped_and_counted_without_late_sink(tmp_path: Path) -> None:
    records = [{"ts": t} for t in (30, 1, 2, 35, 3, 40, 29)]
    write_jsonl(tmp_path / "in.jsonl", records)
    out = CollectSink()
    metrics = run_pipeline(
        'source s = file("in.jsonl")\nsink out = file("out.jsonl")\n'
        "s | event_time ts | window tumbling 10ms | aggregate { n = count() }"
        " | into out\n",
        tmp_path,
        sinks={"out": out},
    )
    (window,) = [m for m in metrics.nodes.values() if m.name.startswith("aggregate")]
    assert window.late == 4
    assert out.records == [
        {"window_start": 30, "window_end": 40, "n": 2},
        {"window_start": 40, "window_end": 50, "n": 1},
    ]


def test_late_session_record_goes_to_late_sink_unless_it_joins_open_session(tmp_path: Path) -> None:
    records = [
        {"ts": 0, "k": "a"},
        {"ts": 20, "k": "a"},
        {"ts": 5, "k": "a"},
        {"ts": 12, "k": "a"},
        {"ts": 25, "k": "b"},
    ]
    write_jsonl(tmp_path / "in.jsonl", records)
    out, late = CollectSink(), CollectSink()
    run_pipeline(
        'source s = file("in.jsonl")\nsink out = file("out.jsonl")\n'
        'sink late = file("late.jsonl")\n'
        "s | event_time ts | window session gap 10ms | aggregate by k { n = count() }\n"
        "  | late into late | into out\n",
        tmp_path,
        sinks={"out": out, "late": late},
    )
    # 5 would make [5, 15): closed by 20; 12 reaches the open session [20, 30)
    assert late.records == [{"ts": 5, "k": "a"}]
    assert out.records == [
        {"window_start": 0, "window_end": 10, "k": "a", "n": 1},
        {"window_start": 12, "window_end": 30, "k": "a", "n": 2},
        {"window_start": 25, "window_end": 35, "k": "b", "n": 1},
    ]


# -- processing time and unions ------------------------------------------------------------------


def test_processing_time_window_fires_when_clock_passes_end(tmp_path: Path) -> None:
    source, out, clock = FeedSource(), CollectSink(), ManualClock(start_ms=1_000_000)
    text = (
        'source s = file("unused.jsonl")\nsink out = file("out.jsonl")\n'
        "s | window tumbling 10s | aggregate by k { n = count() } | into out\n"
    )

    async def script() -> None:
        source.feed([{"k": "a"}, {"k": "b"}, {"k": "a"}])
        await wait_all_tasks_blocked()
        clock.advance(5)
        await wait_all_tasks_blocked()
        source.feed([{"k": "a"}])
        await wait_all_tasks_blocked()
        assert out.records == []
        clock.advance(5)
        await wait_all_tasks_blocked()
        assert out.records == [
            {"window_start": 1_000_000, "window_end": 1_010_000, "k": "a", "n": 3},
            {"window_start": 1_000_000, "window_end": 1_010_000, "k": "b", "n": 1},
        ]
        source.feed([{"k": "c"}])
        await wait_all_tasks_blocked()
        source.end()

    drive(tmp_path, text, script, clock=clock, sources={"s": source}, sinks={"out": out})
    assert out.records[2:] == [
        {"window_start": 1_010_000, "window_end": 1_020_000, "k": "c", "n": 1}
    ]


def test_union_of_event_time_streams_windows_both_without_late_records(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", [{"ts": t, "s": "a"} for t in range(0, 3000, 2)])
    write_jsonl(tmp_path / "b.jsonl", [{"ts": t, "s": "b"} for t in range(1, 3000, 3)])
    out = CollectSink()
    # the default batch (1000) lets one source run far ahead of the other: the merged
    # watermark, not the largest time seen from either, decides what is late
    metrics = run_pipeline(
        'source a = file("a.jsonl")\nsource b = file("b.jsonl")\nsink out = file("o.jsonl")\n'
        "stream ta = a | event_time ts\nstream tb = b | event_time ts\n"
        "union(ta, tb) | window tumbling 500ms | aggregate by s { n = count() } | into out\n",
        tmp_path,
        sinks={"out": out},
    )
    assert sum(m.late for m in metrics.nodes.values()) == 0
    counts = {(r["window_start"], r["s"]): r["n"] for r in out.records}
    assert counts == {
        **{(w, "a"): 250 for w in range(0, 3000, 500)},
        **{(w, "b"): len(range(w + (1 - w) % 3, w + 500, 3)) for w in range(0, 3000, 500)},
    }
    ends = [r["window_end"] for r in out.records]
    assert ends == sorted(ends)


@pytest.mark.parametrize("keys", ["k", "k, odd"])
def test_window_rows_into_a_jsonl_file_are_the_rows_a_collecting_sink_gets(
    keys: str, tmp_path: Path
) -> None:
    """Rows only an encoding sink reads are Structs (`aggregate._emit_rows_of`): the file holds
    what the dicts a collecting sink gets encode to, fields in the same order."""
    (tmp_path / "in.jsonl").write_text(
        "".join(
            f'{{"ts": {t * 700}, "k": "{t % 3}", "odd": {t % 2}, "v": {t}}}\n' for t in range(40)
        )
    )
    text = (
        'source s = file("in.jsonl")\nsink o = file("out.jsonl")\n'
        "s | event_time ts lateness 1s | window tumbling 5s"
        f" | aggregate by {keys} {{ n = count(), total = sum(v) }} | into o\n"
    )
    run_pipeline(text, tmp_path)
    out = CollectSink()
    run_pipeline(text, tmp_path, sinks={"o": out})
    written = (tmp_path / "out.jsonl").read_bytes()
    assert written == b"".join(msgspec.json.encode(r) + b"\n" for r in out.records)
    assert len(out.records) >= 18 and list(out.records[0])[:3] == [
        "window_start",
        "window_end",
        "k",
    ]
