"""`rolling` (runtime/rolling.py) beyond the DuckDB oracle (test_rolling_oracle.py): late records
by the windows' rule wherever batches are cut, ties, records held until the watermark passes
them, state freed behind it, bad values, and a snapshot taken anywhere mid-stream (as a
checkpoint takes it) restoring to the output of an uninterrupted run.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import anyio
import msgspec
import pytest
from anyio import wait_all_tasks_blocked
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rillet.runtime import ManualClock, execute, prepare
from rillet.runtime.checkpoint import FileCheckpointStore
from rillet.runtime.compile import compile_plan
from rillet.runtime.item import END_OF_TIME, Batch, Origin
from rillet.runtime.memory import MemorySource as CheckpointedSource
from rillet.runtime.operator import Output
from rillet.runtime.partition import partition_plan
from rillet.runtime.plan import Rolling, Source
from rillet.stdlib.generate import START_MS, click_events
from tests.conftest import compile_pipeline
from tests.runtime._collect import CollectSink
from tests.runtime._streams import (
    FeedSource,
    MemorySource,
    batch_sizes,
    compiled_plan,
    disordered,
    drive,
)
from tests.runtime.test_checkpoint import Crash, CrashingSource

FLOW = """source s = file("unused.jsonl")
sink out = file("out.jsonl")
sink late = file("late.jsonl")
sink rejects = file("rejects.jsonl")
errors into rejects
s | event_time ts lateness {lateness}ms | rolling {size} by k {items} | late into late | into out
"""
ITEMS = "{ n = count(), total = sum(v), values = collect(v) }"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rolling")


def run(
    base_dir: Path, records: list[dict], sizes=(), lateness=0, size="10ms", items=ITEMS
) -> dict[str, list[dict]]:
    text = FLOW.format(lateness=lateness, size=size, items=items)
    plan, registry = compiled_plan(text, base_dir)
    sinks = {name: CollectSink() for name in ("out", "late", "rejects")}
    source = MemorySource(records, sizes)
    anyio.run(lambda: execute(plan, registry, sources={"s": source}, sinks=sinks))
    return {name: sink.records for name, sink in sinks.items()}


def reference(records: list[dict], lateness: int, within: int) -> tuple[list[dict], list[dict]]:
    """(output, late records): a record is late when its time is below the largest time
    before it minus the lateness; every other one, in (time, arrival) order, with the
    aggregates of `ITEMS` over the on-time records of its key in [time − within, time]."""
    late, kept, highest = [], [], None
    for seq, record in enumerate(records):
        if highest is not None and record["ts"] < highest - lateness:
            late.append(record)
        else:
            kept.append((record["ts"], seq, record))
        highest = record["ts"] if highest is None else max(highest, record["ts"])
    kept.sort(key=lambda e: e[:2])
    out = []
    for ts, _, record in kept:
        frame = [r for t, _, r in kept if r["k"] == record["k"] and ts - within <= t <= ts]
        values = [r["v"] for r in frame if r["v"] is not None]
        total = sum(values) if values else None
        out.append({**record, "n": len(frame), "total": total, "values": values})
    return out, late


@settings(max_examples=100, deadline=None)
@given(
    disorder=st.integers(0, 30),
    lateness=st.integers(0, 15),
    within=st.sampled_from([0, 4, 25]),
    sizes=batch_sizes(),
    data=st.data(),
)
def test_late_records_go_aside_by_the_windows_rule_wherever_batches_are_cut(
    workdir: Path, disorder: int, lateness: int, within: int, sizes: list[int], data
) -> None:
    records = data.draw(disordered(disorder))
    got = run(workdir, records, sizes, lateness, f"{within}ms")
    out, late = reference(records, lateness, within)
    assert got == {"out": out, "late": late, "rejects": []}


def test_ties_count_each_other_and_come_out_in_arrival_order(tmp_path: Path) -> None:
    records = [
        {"ts": 10, "k": "a", "v": 1},
        {"ts": 10, "k": "b", "v": 2},
        {"ts": 5, "k": "a", "v": 3},
        {"ts": 10, "k": "a", "v": 4},  # a tie that arrives after the first has been seen
        {"ts": 16, "k": "a", "v": 5},  # 5 ms back reaches the ties at 10 ms, not 5 ms
    ]
    got = run(tmp_path, records, [1] * 5, lateness=10, size="6ms", items="{ n = count() }")
    assert [(r["ts"], r["v"], r["n"]) for r in got["out"]] == [
        (5, 3, 1),
        (10, 1, 3),
        (10, 2, 1),
        (10, 4, 3),
        (16, 5, 3),
    ]


def test_rolling_last_counts_back_in_event_time_ties_by_arrival(tmp_path: Path) -> None:
    records = [
        {"ts": 3, "k": "a", "v": 1},
        {"ts": 1, "k": "a", "v": 2},
        {"ts": 3, "k": "a", "v": 3},
        {"ts": 2, "k": "a", "v": 4},
        {"ts": 9, "k": "b", "v": 5},
    ]
    got = run(tmp_path, records, lateness=5, size="last 3", items="{ values = collect(v) }")
    assert [r["values"] for r in got["out"]] == [[2], [2, 4], [2, 4, 1], [4, 1, 3], [5]]


def test_records_wait_until_the_watermark_passes_their_time(tmp_path: Path) -> None:
    source, out = FeedSource(), CollectSink()

    async def script() -> None:
        source.feed([{"ts": 100, "k": "a", "v": 1}, {"ts": 104, "k": "a", "v": 2}])
        await wait_all_tasks_blocked()
        assert out.records == []  # the watermark is 104 − 4 = 100: not past 100 yet
        source.feed([{"ts": 105, "k": "a", "v": 3}])
        await wait_all_tasks_blocked()
        assert [(r["ts"], r["n"]) for r in out.records] == [(100, 1)]
        source.end()

    text = FLOW.format(lateness=4, size="1s", items="{ n = count() }")
    drive(tmp_path, text, script, sources={"s": source}, sinks={"out": out})
    assert [(r["ts"], r["n"]) for r in out.records] == [(100, 1), (104, 2), (105, 3)]


def test_the_example_of_the_reference(tmp_path: Path) -> None:
    """docs/language.md §4.5, record by record."""
    source, out, late = FeedSource(), CollectSink(), CollectSink()
    rows = [("a", "10:00:00", 20), ("a", "10:04:00", 30), ("b", "10:04:02", 5)]
    rows += [("a", "10:03:59", 10), ("a", "10:10:00", 40), ("a", "10:03:00", 99)]
    rows += [("a", "10:10:00", 1)]
    records = [{"ts": f"2026-01-01T{t}Z", "k": k, "v": v} for k, t, v in rows]

    def written() -> list[tuple]:
        return [(r["ts"][11:19], r["v"], r["n"], r["total"]) for r in out.records]

    async def script() -> None:
        for number, record in enumerate(records, 1):
            source.feed([record])
            await wait_all_tasks_blocked()
            if number == 1:
                assert written() == []
            if number == 4:
                assert written() == [("10:00:00", 20, 1, 20)]
            if number == 5:
                assert written() == [
                    ("10:00:00", 20, 1, 20),
                    ("10:03:59", 10, 2, 30),
                    ("10:04:00", 30, 3, 60),
                    ("10:04:02", 5, 1, 5),
                ]
        source.end()

    text = FLOW.format(lateness=5000, size="10m", items="{ n = count(), total = sum(v) }")
    drive(tmp_path, text, script, sources={"s": source}, sinks={"out": out, "late": late})
    assert written()[4:] == [("10:10:00", 40, 5, 101), ("10:10:00", 1, 5, 101)]
    assert late.records == [records[5]]


def test_values_that_cannot_be_counted_make_error_records(tmp_path: Path) -> None:
    records = [
        {"ts": 1, "k": "a", "v": 2, "w": 1},
        {"ts": 2, "k": "a", "v": 1, "w": 0},  # 1 / 0: fails alone, never counted
        {"ts": 3, "k": "a", "v": "x", "w": 1},  # fine alone, not with the 2 before it
        {"ts": 9, "k": "a", "v": 4, "w": 2},
        {"ts": 9, "k": ["no"], "v": 4, "w": 2},  # a list cannot be a key
    ]
    got = run(tmp_path, records, size="5ms", items="{ total = sum(v), parts = sum(1 / w) }")
    assert [(r["ts"], r["total"], r["parts"]) for r in got["out"]] == [(1, 2, 1.0), (9, 4, 0.5)]
    rejected = [(r["raw"]["ts"], r["reason"]) for r in got["rejects"]]
    assert rejected == [
        (2, "`rolling` failed: division by zero"),
        (9, "`rolling` failed: unhashable type: 'list'"),
        (3, "`rolling` failed: unsupported operand type(s) for +: 'int' and 'str'"),
    ]


def test_an_item_replaces_a_field_of_records_whose_fields_are_unknown(tmp_path: Path) -> None:
    records = [{"ts": 1, "v": 2, "k": "a"}, {"ts": 2, "v": 3, "k": "a"}]
    got = run(tmp_path, records, size="1s", items="{ v = sum(v) }")
    assert got["out"] == [{"ts": 1, "v": 2, "k": "a"}, {"ts": 2, "v": 5, "k": "a"}]


# -- state ---------------------------------------------------------------------------------------


def operator(size: str, lateness: int = 0):
    """A rolling operator as the compiler builds it, fed by hand."""
    text = FLOW.format(lateness=lateness, size=size, items=ITEMS)
    with tempfile.TemporaryDirectory() as base_dir:
        plan, registry = compiled_plan(text, Path(base_dir))
    physical = compile_plan(plan, registry, ManualClock())
    (node,) = [n for n in physical.nodes.values() if isinstance(n.plan_nodes[0].op, Rolling)]
    return node.operator


def feed(op, batches: list[list[dict]], lateness: int, out: Output) -> None:
    """Each batch, then the watermark `event_time` would send after it."""
    highest = None
    for records in batches:
        op.process(Batch(records, list(range(len(records))), Origin("s")), 0, out)
        highest = max([r["ts"] for r in records] + ([highest] if highest is not None else []))
        op.on_watermark(highest - lateness, out)


def kept(op) -> list[tuple[str, int]]:
    """(key, time) of every record the operator holds, from its snapshot."""
    return [(key, ts) for key, entries in op.snapshot().series for ts, *_ in entries]


def fed_with_a_restore(size: str, batches: list[list[dict]]):
    """An operator fed `batches`, restored from its snapshot half-way as after a crash."""
    op = operator(size)
    feed(op, batches[: len(batches) // 2], 0, Output())
    saved = msgspec.msgpack.encode(op.snapshot())
    op = operator(size)
    op.restore(msgspec.msgpack.decode(saved))
    feed(op, batches[len(batches) // 2 :], 0, Output())
    return op


def test_state_keeps_what_a_record_to_come_can_reach() -> None:
    records = [{"ts": ts, "k": k, "v": 1} for ts in range(0, 100, 5) for k in "ab"]
    records.insert(17, {"ts": 40, "k": "c", "v": 1})
    batches = [records[i : i + 4] for i in range(0, len(records), 4)]
    over_time, last = fed_with_a_restore("10ms", batches), fed_with_a_restore("last 3", batches)
    # the watermark is 95: records from 85 on may still be reached; `c` is gone
    assert kept(over_time) == [(k, ts) for k in "ab" for ts in (85, 90, 95)]
    # two released records per key, and the one at 95 that waits for the watermark
    assert kept(last) == [(k, ts) for k in "ab" for ts in (85, 90, 95)] + [("c", 40)]
    for op in (over_time, last):
        op.on_watermark(END_OF_TIME, Output())
    assert kept(over_time) == []


@settings(max_examples=60, deadline=None)
@given(
    disorder=st.integers(0, 20),
    size=st.sampled_from(["0ms", "7ms", "30ms", "last 1", "last 4"]),
    sizes=batch_sizes(),
    data=st.data(),
)
def test_a_snapshot_mid_stream_restores_to_the_same_output(
    disorder: int, size: str, sizes: list[int], data
) -> None:
    records = data.draw(disordered(disorder))
    batches, at = [], 0
    for n in [*sizes, len(records)]:
        if at < len(records):
            batches.append(records[at : at + n])
            at += n
    cut = data.draw(st.integers(0, len(batches)))
    whole, resumed = Output(), Output()
    uninterrupted = operator(size, disorder)
    feed(uninterrupted, batches, disorder, whole)
    first = operator(size, disorder)
    feed(first, batches[:cut], disorder, resumed)
    saved = msgspec.msgpack.encode(first.snapshot())
    second = operator(size, disorder)
    second.restore(msgspec.msgpack.decode(saved))
    feed(second, batches[cut:], disorder, resumed)
    assert kept(second) == kept(uninterrupted)  # and frees what it would have freed
    for op, out in ((uninterrupted, whole), (second, resumed)):
        op.on_end(out)
    assert (resumed.records, resumed.offsets) == (whole.records, whole.offsets)
    assert resumed.late == whole.late == []


def test_workers_shuffle_rolling_by_its_keys(tmp_path: Path) -> None:
    text = FLOW.format(lateness=0, size="1s", items=ITEMS).replace("by k", "by k, v")
    plan, _ = compiled_plan(text, tmp_path)
    cut, shuffles = partition_plan(plan, "redis://127.0.0.1:1", "rillet:g", "shuffle")
    assert [s.keys for s in shuffles] == [("k", "v")]
    (rolling,) = [n for n in cut.nodes if isinstance(n.op, Rolling)]
    (feeding,) = rolling.inputs
    assert cut.nodes[feeding].op == Source(
        shuffles[0].name,
        "shuffle",
        {
            "broker": "redis://127.0.0.1:1",
            "prefix": "rillet:g",
        },
    )


PIPELINE = """set batch_size = 50
set checkpoint_interval = 1ms
source clicks = file("in.jsonl")
sink out = file("out/out.jsonl")
sink late = file("out/late.jsonl")
clicks | event_time ts lateness 1s
  | rolling 2s by page { n = count(), total = sum(latency_ms) } | late into late
  | rolling last 4 by user { pages = count_distinct(page) } | into out
"""


def run_checkpointed(folder: Path, source: CheckpointedSource, store: FileCheckpointStore) -> None:
    compiled = compile_pipeline(PIPELINE, folder)
    assert compiled.plan is not None and compiled.checked is not None
    execution = prepare(
        compiled.plan,
        compiled.checked.registry,
        sources={"clicks": source},
        store=store,
        resume=store.latest(),
    )
    anyio.run(execution.run)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(crashes=st.lists(st.integers(min_value=0, max_value=1999), min_size=1, max_size=3))
def test_a_run_stopped_anywhere_resumes_to_the_uninterrupted_output(
    tmp_path_factory: pytest.TempPathFactory, crashes: list[int]
) -> None:
    """Checkpoints every millisecond land anywhere mid-stream: records released or waiting,
    and late ones, are each written once, in the order of a run that never stopped."""
    records = click_events(random.Random(3), 0, 2000, START_MS, 7.0)
    reference = tmp_path_factory.mktemp("reference")
    run_checkpointed(
        reference, CheckpointedSource(records, batch_size=50), FileCheckpointStore(reference / "s")
    )
    crashed = tmp_path_factory.mktemp("crashed")
    store = FileCheckpointStore(crashed / "state")
    for crash_at in sorted(crashes):
        with pytest.raises(BaseException) as caught:  # noqa: B017 - a task group wraps it
            run_checkpointed(crashed, CrashingSource(records, crash_at), store)
        assert (
            caught.group_contains(Crash)
            if isinstance(caught.value, BaseExceptionGroup)
            else isinstance(caught.value, Crash)
        )
    run_checkpointed(crashed, CheckpointedSource(records, batch_size=50), store)
    for name in ("out.jsonl", "late.jsonl"):
        want = (reference / "out" / name).read_bytes()
        assert want and (crashed / "out" / name).read_bytes() == want, name
