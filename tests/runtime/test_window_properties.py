"""Properties of windowed aggregation (runtime/window.py) on generated streams whose disorder is
bounded by the lateness, so that nothing is late: the results do not depend on where
micro-batches are cut (`set batch_size`, or a source cutting at hypothesis-chosen points) and
equal a plain reference computation (tests/runtime/_streams.py: sort, bucket, fold).

Tumbling and sliding results are compared exactly, order included (window end, then keys by
first arrival); session results as multisets, with ends non-decreasing in the output. With
lateness 0 on disordered data, every record is either counted in a window or late, and the late
ones are exactly those the rule of docs/language.md §4.8 names, whatever the batches.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rillet.runtime import execute
from tests.runtime._collect import CollectSink
from tests.runtime._streams import (
    AGGREGATES,
    MemorySource,
    batch_sizes,
    canonical,
    compiled_plan,
    disordered,
    pane_windows,
    sessions,
    three_windows,
    write_jsonl,
)

SLIDING = [(10, 5), (15, 10), (20, 5), (6, 4), (8, 8)]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("windows")


def windows_text(
    batch_size: int, lateness: int, size: int, slide: tuple[int, int], gap: int
) -> str:
    return f"set batch_size = {batch_size}\n" + three_windows(
        "in.jsonl", AGGREGATES, lateness, size, slide, gap
    )


def run_windows(text: str, base_dir: Path, **kwargs) -> dict[str, list[dict]]:
    plan, registry = compiled_plan(text, base_dir)
    sinks = {name: CollectSink() for name in ("tumbling", "sliding", "sessions")}
    metrics = anyio.run(lambda: execute(plan, registry, sinks=sinks, **kwargs))
    assert sum(m.late for m in metrics.nodes.values()) == 0
    return {name: sink.records for name, sink in sinks.items()}


def loose(rows: list[dict]) -> list[str]:
    """Session rows with the values' order left out: `collect` as a sorted list, `first` and
    `last` only as members of it (a late record bridging two sessions puts the earlier
    session's values first, whatever their arrival)."""
    out = []
    for row in rows:
        row = dict(row)
        values = sorted(row["values"])
        head, tail = row.pop("head"), row.pop("tail")
        assert (head in values and tail in values) if values else head is tail is None
        out.append({**row, "values": values})
    return canonical(out)


@settings(max_examples=100, deadline=None)
@given(
    disorder=st.integers(0, 25),
    slack=st.integers(0, 10),
    size=st.sampled_from([5, 10, 20]),
    slide=st.sampled_from(SLIDING),
    gap=st.sampled_from([3, 10, 25]),
    batch_size=st.sampled_from([1, 2, 3, 7, 1000]),
    sizes=batch_sizes(),
    data=st.data(),
)
def test_windows_equal_reference_wherever_batches_are_cut(
    workdir: Path,
    disorder: int,
    slack: int,
    size: int,
    slide: tuple[int, int],
    gap: int,
    batch_size: int,
    sizes: list[int],
    data: st.DataObject,
) -> None:
    records = data.draw(disordered(disorder))
    write_jsonl(workdir / "in.jsonl", records)
    text = windows_text(batch_size, disorder + slack, size, slide, gap)
    from_file = run_windows(text, workdir)
    from_memory = run_windows(text, workdir, sources={"s": MemorySource(records, sizes)})

    tumbling = pane_windows(records, size, size)
    sliding = pane_windows(records, *slide)
    expected_sessions = sessions(records, gap)
    for got in (from_file, from_memory):
        assert got["tumbling"] == tumbling
        assert got["sliding"] == sliding
        ends = [r["window_end"] for r in got["sessions"]]
        assert ends == sorted(ends)
        if disorder == 0:  # in time order, a session's values arrive in order too
            assert canonical(got["sessions"]) == canonical(expected_sessions)
        else:
            assert loose(got["sessions"]) == loose(expected_sessions)
    assert from_file["sessions"] == from_memory["sessions"]


def late_text(batch_size: int, size: int, gap: int, late_sink: bool) -> str:
    late = "| late into late " if late_sink else ""
    return f"""set batch_size = {batch_size}
source s = file("in.jsonl")
sink out = file("out.jsonl")
sink sessions = file("sessions.jsonl")
sink late = file("late.jsonl")
stream t = s | event_time ts
t | window tumbling {size}ms | aggregate by k {{ n = count() }} {late}| into out
t | window session gap {gap}ms | aggregate by k {{ n = count() }} | into sessions
"""


def expected_late(records: list[dict], size: int) -> list[int]:
    """With lateness 0, the indexes of the late records: those whose window ended at or before
    the largest event time that came before them."""
    late, highest = [], None
    for index, record in enumerate(records):
        ts = record["ts"]
        if highest is not None and ts - ts % size + size <= highest:
            late.append(index)
        highest = ts if highest is None else max(highest, ts)
    return late


@settings(max_examples=60, deadline=None)
@given(
    records=disordered(40, max_size=60),
    size=st.sampled_from([5, 10]),
    gap=st.sampled_from([2, 8]),
    batch_size=st.sampled_from([1, 4, 1000]),
    sizes=batch_sizes(),
    late_sink=st.booleans(),
)
def test_on_time_counts_plus_late_equal_input_when_lateness_is_zero(
    workdir: Path,
    records: list[dict],
    size: int,
    gap: int,
    batch_size: int,
    sizes: list[int],
    late_sink: bool,
) -> None:
    write_jsonl(workdir / "in.jsonl", records)
    plan, registry = compiled_plan(late_text(batch_size, size, gap, late_sink), workdir)
    late = expected_late(records, size)
    on_time = [r for i, r in enumerate(records) if i not in late]
    for source in ({}, {"s": MemorySource(records, sizes)}):
        sinks = {"out": CollectSink(), "sessions": CollectSink(), "late": CollectSink()}
        metrics = anyio.run(partial(execute, plan, registry, sinks=sinks, sources=source))
        tumbling, session = [m for m in metrics.nodes.values() if m.name.startswith("aggregate@")]
        counted = sinks["out"].records
        assert sum(r["n"] for r in counted) + tumbling.late == len(records)
        assert tumbling.late == len(late)
        assert sinks["late"].records == ([records[i] for i in late] if late_sink else [])
        expected = pane_windows(on_time, size, size, fold=lambda rs: {"n": len(rs)})
        assert canonical(counted) == canonical(expected)
        assert sum(r["n"] for r in sinks["sessions"].records) + session.late == len(records)
