"""`top` (runtime/top.py) beyond the DuckDB oracle (test_top_oracle.py): how values order (nulls
and NaN last, numbers before text, booleans as 0 and 1), values that cannot be ordered, late
records, a window's bounds over a record's own fields, the shuffle keys for --workers, and a
snapshot taken anywhere mid-stream (as a checkpoint takes it) restoring to the output of an
uninterrupted run, early rows (`emit every`) included.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import anyio
import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from rillet.runtime import ManualClock, execute
from rillet.runtime.compile import compile_plan
from rillet.runtime.item import Batch, Origin
from rillet.runtime.operator import Output
from rillet.runtime.partition import partition_plan
from rillet.runtime.plan import Source, Top
from tests.runtime._collect import CollectSink
from tests.runtime._streams import MemorySource, batch_sizes, compiled_plan, disordered

FLOW = """source s = file("unused.jsonl")
sink out = file("out.jsonl")
sink late = file("late.jsonl")
sink rejects = file("rejects.jsonl")
errors into rejects
s | {flow} | into out
"""


def run(base_dir: Path, records: list[dict], flow: str, sizes=()) -> dict[str, list[dict]]:
    plan, registry = compiled_plan(FLOW.format(flow=flow), base_dir)
    sinks = {name: CollectSink() for name in ("out", "late", "rejects")}
    source = MemorySource(records, sizes)
    anyio.run(lambda: execute(plan, registry, sources={"s": source}, sinks=sinks))
    return {name: sink.records for name, sink in sinks.items()}


def ranked(rows: list[dict], field: str = "v") -> list[tuple]:
    return [(r["rank"], r[field]) for r in rows]


# -- how values order ----------------------------------------------------------------------------


def test_nulls_and_nan_come_last_in_both_directions(tmp_path: Path) -> None:
    values = [None, 2, float("nan"), -1, 7]
    records = [{"v": v, "n": n} for n, v in enumerate(values)]
    largest = run(tmp_path, records, "top 5 by v desc")["out"]
    smallest = run(tmp_path, records, "top 5 by v asc")["out"]
    assert [r["n"] for r in largest] == [4, 1, 3, 0, 2]  # null and NaN by arrival
    assert [r["n"] for r in smallest] == [3, 1, 4, 0, 2]
    assert [r["rank"] for r in largest] == [1, 2, 3, 4, 5]


def test_numbers_come_before_text_and_booleans_are_numbers(tmp_path: Path) -> None:
    records = [{"v": v} for v in ["b", 1.5, True, "a", 0, False]]
    assert ranked(run(tmp_path, records, "top 6 by v desc")["out"]) == [
        (1, 1.5),
        (2, True),
        (3, 0),
        (4, False),  # ties 0: it came later
        (5, "b"),
        (6, "a"),
    ]
    assert [r["v"] for r in run(tmp_path, records, "top 6 by v asc")["out"]] == [
        0,
        False,
        True,
        1.5,
        "a",
        "b",
    ]


def test_later_order_fields_break_ties_then_arrival(tmp_path: Path) -> None:
    records = [
        {"v": 1, "c": "x", "n": 0},
        {"v": 2, "c": "y", "n": 1},
        {"v": 2, "c": "x", "n": 2},
        {"v": 2, "c": "y", "n": 3},
        {"v": 2, "c": None, "n": 4},
    ]
    got = run(tmp_path, records, "top 4 by v desc, c desc", sizes=[2, 1])["out"]
    assert [r["n"] for r in got] == [1, 3, 2, 4]


def test_a_value_that_cannot_be_ordered_makes_an_error_record(tmp_path: Path) -> None:
    records = [{"v": 3, "k": "a"}, {"v": [1], "k": "a"}, {"v": {"x": 1}, "k": "b"}]
    got = run(tmp_path, records, "top 2 by v per k")
    assert got["out"] == [{"v": 3, "k": "a", "rank": 1}]
    assert [(e["raw"]["v"], e["reason"]) for e in got["rejects"]] == [
        ([1], "`top` failed: `v` is a list, which has no order: `top` orders numbers and text"),
        (
            {"x": 1},
            "`top` failed: `v` is a record, which has no order: `top` orders numbers and text",
        ),
    ]


# -- windows -------------------------------------------------------------------------------------


def test_late_records_follow_the_window_rule(tmp_path: Path) -> None:
    records = [{"ts": 5, "v": 1}, {"ts": 12, "v": 2}, {"ts": 9, "v": 9}, {"ts": 15, "v": 3}]
    flow = "event_time ts lateness 2ms | window tumbling 10ms | top 1 by v | late into late"
    got = run(tmp_path, records, flow)
    assert [(r["window_start"], r["v"]) for r in got["out"]] == [(0, 1), (10, 3)]
    assert got["late"] == [{"ts": 9, "v": 9}]  # 10 <= 12 − 2


def test_the_window_bounds_win_over_fields_of_the_same_name(tmp_path: Path) -> None:
    records = [{"ts": 5, "window_start": "mine", "rank": 9, "v": 1}]
    flow = "event_time ts | window tumbling 10ms | top 1 by v"
    (row,) = run(tmp_path, records, flow)["out"]
    assert row == {"window_start": 0, "window_end": 10, "ts": 5, "rank": 1, "v": 1}
    assert list(row) == ["window_start", "window_end", "ts", "rank", "v"]


def test_workers_shuffle_top_by_its_per_keys(tmp_path: Path) -> None:
    plan, _ = compiled_plan(FLOW.format(flow="top 3 by v per k, c"), tmp_path)
    cut, shuffles = partition_plan(plan, "redis://127.0.0.1:1", "rillet:g", "shuffle")
    assert [s.keys for s in shuffles] == [("k", "c")]
    (top,) = [n for n in cut.nodes if isinstance(n.op, Top)]
    assert isinstance(cut.nodes[top.inputs[0]].op, Source)
    whole, _ = compiled_plan(FLOW.format(flow="top 3 by v"), tmp_path)
    assert [s.keys for s in partition_plan(whole, "redis://x", "p", "shuffle")[1]] == [()]


# -- state ---------------------------------------------------------------------------------------

SHAPES = [
    "window tumbling 20ms | top 2 by v desc per k",
    "window tumbling 20ms emit every 10s | top 2 by v asc, c desc per k",
    "window sliding 20ms every 5ms emit every 10s | aggregate by k { n = count(), s = sum(v) }",
    "window sliding 20ms every 5ms | top 3 by v desc",
    "window session gap 6ms | top 1 by v desc per k",
    "top 2 by v desc per k",
]


def operator(shape: str, lateness: int):
    """The operator of `shape` after `event_time ts` as the compiler builds it, fed by hand."""
    text = FLOW.format(flow=f"event_time ts lateness {lateness}ms | {shape}")
    with tempfile.TemporaryDirectory() as base_dir:
        plan, registry = compiled_plan(text, Path(base_dir))
    physical = compile_plan(plan, registry, ManualClock())
    return [n.operator for n in physical.nodes.values() if n.kind == "operator"][-1]


def feed(op, batches: list[list[dict]], lateness: int, out: Output, clock_s: int) -> None:
    """Each batch, the watermark `event_time` would send after it, and a tick of the clock
    10 s later than the last (the ticks of `emit every 10s`)."""
    highest = None
    for records in batches:
        op.process(Batch(records, list(range(len(records))), Origin("s")), 0, out)
        highest = max([r["ts"] for r in records] + ([highest] if highest is not None else []))
        op.on_watermark(highest - lateness, out)
        clock_s += 10
        op.on_tick(clock_s * 1000, out)


def renumbered(snapshot: Any) -> Any:
    """A snapshot with a `top`'s arrival numbers replaced by their order: only their order is
    kept across a restore (a resumed run numbers on from the largest kept, one that was not
    stopped also counted records it dropped), and only their order ranks ties."""
    state = msgspec.json.decode(msgspec.json.encode(snapshot))  # tuples as lists, to renumber
    kept: list[list] = []

    def find(value: Any) -> None:  # a kept record is held as [arrival, record]
        if isinstance(value, list):
            if len(value) == 2 and type(value[0]) is int and isinstance(value[1], dict):
                kept.append(value)
            else:
                for item in value:
                    find(item)
        elif isinstance(value, dict):
            for item in value.values():
                find(item)

    for held in ("panes", "groups", "sessions"):  # the window's, or a global aggregate's
        find(state.get(held, []))
    order = {seq: rank for rank, seq in enumerate(sorted({entry[0] for entry in kept}))}
    for entry in kept:
        entry[0] = order[entry[0]]
    return state


@settings(max_examples=80, deadline=None)
@given(
    disorder=st.integers(0, 15),
    shape=st.sampled_from(SHAPES),
    sizes=batch_sizes(),
    data=st.data(),
)
def test_a_snapshot_mid_stream_restores_to_the_same_output(
    disorder: int, shape: str, sizes: list[int], data
) -> None:
    records = data.draw(disordered(disorder, min_ts=0))
    batches, at = [], 0
    for n in [*sizes, len(records)]:
        if at < len(records):
            batches.append(records[at : at + n])
            at += n
    cut = data.draw(st.integers(0, len(batches)))
    whole, resumed = Output(), Output()
    uninterrupted = operator(shape, disorder)
    feed(uninterrupted, batches, disorder, whole, 0)
    first = operator(shape, disorder)
    feed(first, batches[:cut], disorder, resumed, 0)
    saved = msgspec.msgpack.encode(first.snapshot())
    second = operator(shape, disorder)
    second.restore(msgspec.msgpack.decode(saved))
    feed(second, batches[cut:], disorder, resumed, cut * 10)
    assert renumbered(second.snapshot()) == renumbered(uninterrupted.snapshot())
    for op, out in ((uninterrupted, whole), (second, resumed)):
        op.on_end(out)
    assert resumed.records == whole.records
    assert resumed.late == whole.late == []
