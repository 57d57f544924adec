"""`dedupe`, `join` and `lookup` (runtime/keyed.py), each held to a reference computed in the
test: on generated streams whose disorder the lateness covers, results do not depend on where
batches are cut, and by example for null keys, clashing field names, missing lookup keys and a
csv table without schema (its keys are text, matched against the record's value as text).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import anyio
import pytest
from anyio import wait_all_tasks_blocked
from hypothesis import given, settings
from hypothesis import strategies as st

from rillet.runtime import ManualClock, execute
from rillet.runtime.item import Batch, Origin
from rillet.runtime.keyed import DedupeOperator
from rillet.runtime.operator import Output
from tests.conftest import run_pipeline
from tests.runtime._collect import CollectSink
from tests.runtime._streams import (
    FeedSource,
    MemorySource,
    batch_sizes,
    canonical,
    compiled_plan,
    disordered,
    drive,
    write_jsonl,
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keyed")


def run(text: str, base_dir: Path, sources: dict, **kwargs) -> list[dict]:
    plan, registry = compiled_plan(text, base_dir)
    out = CollectSink()
    anyio.run(lambda: execute(plan, registry, sources=sources, sinks={"out": out}, **kwargs))
    return out.records


# -- dedupe --------------------------------------------------------------------------------------


def expected_dedupe(records: list[dict], keys: tuple[str, ...], within: int) -> list[dict]:
    """Arrival order: drop a record when one with the same keys (nulls equal) was kept at a time
    `t` with `t <= ts <= t + within`."""
    kept: dict[tuple, list[int]] = {}
    out = []
    for record in records:
        key, ts = tuple(record.get(k) for k in keys), record["ts"]
        if any(t <= ts <= t + within for t in kept.get(key, [])):
            continue
        kept.setdefault(key, []).append(ts)
        out.append(record)
    return out


@settings(max_examples=100, deadline=None)
@given(
    disorder=st.integers(0, 20),
    within=st.sampled_from([0, 3, 10, 40]),
    keys=st.sampled_from([("k",), ("k", "c")]),
    batch_size=st.sampled_from([1, 3, 1000]),
    sizes=batch_sizes(),
    data=st.data(),
)
def test_dedupe_equals_reference_wherever_batches_are_cut(
    workdir: Path,
    disorder: int,
    within: int,
    keys: tuple[str, ...],
    batch_size: int,
    sizes: list[int],
    data: st.DataObject,
) -> None:
    records = data.draw(disordered(disorder, max_step=6))
    text = (
        f'set batch_size = {batch_size}\nsource s = file("in.jsonl")\n'
        f'sink out = file("out.jsonl")\ns | event_time ts lateness {disorder}ms '
        f"| dedupe by {', '.join(keys)} within {within}ms | into out\n"
    )
    write_jsonl(workdir / "in.jsonl", records)
    expected = expected_dedupe(records, keys, within)
    assert run(text, workdir, {}) == expected
    assert run(text, workdir, {"s": MemorySource(records, sizes)}) == expected


@settings(max_examples=100, deadline=None)
@given(
    steps=st.lists(
        st.one_of(
            st.tuples(st.just("record"), st.integers(0, 5), st.integers(0, 200)),
            st.tuples(st.just("watermark"), st.integers(0, 250)),
        ),
        max_size=60,
    ),
    within=st.sampled_from([0, 5, 30]),
)
def test_dedupe_forgets_exactly_the_times_the_watermark_has_passed(
    steps: list[tuple], within: int
) -> None:
    op = DedupeOperator(("k",), within, "ts", ManualClock())
    watermark = -1
    for step in steps:
        if step[0] == "record":
            op.process(Batch([{"k": step[1], "ts": step[2]}], [0], Origin("s")), 0, Output())
        else:
            watermark = max(watermark, step[1])
            op.on_watermark(watermark, Output())
            horizon = watermark - within  # what a walk over every key keeps
            assert all(t >= horizon for times in op.kept.values() for t in times)
    if watermark >= 0:  # records since the last watermark are forgotten at the next one
        horizon = watermark - within
        walked = {k: [t for t in v if t >= horizon] for k, v in op.kept.items()}
        op.on_watermark(watermark, Output())
        assert op.kept == {k: v for k, v in walked.items() if v}


def test_dedupe_window_counts_from_kept_record_not_dropped_ones(tmp_path: Path) -> None:
    records = [{"ts": t, "id": "x"} for t in (0, 6, 10, 11, 25, 30, 36)]
    records += [{"ts": 40, "id": None}, {"ts": 41}, {"ts": 42, "id": None}]
    out = run(
        'source s = file("in.jsonl")\nsink out = file("out.jsonl")\n'
        "s | event_time ts | dedupe by id within 10ms | into out\n",
        tmp_path,
        {"s": MemorySource(records)},
    )
    # 6 and 10 are within 10 ms of 0; 11 is not (and 11 is not compared with dropped 6 or 10)
    assert [r["ts"] for r in out] == [0, 11, 25, 36, 40]  # null and missing ids are equal


def test_dedupe_on_processing_time_follows_clock(tmp_path: Path) -> None:
    source, out, clock = FeedSource(), CollectSink(), ManualClock(start_ms=50_000)
    text = (
        'source s = file("unused.jsonl")\nsink out = file("out.jsonl")\n'
        "s | dedupe by id within 5s | into out\n"
    )

    async def script() -> None:
        for step_s, batch in [
            (0, [{"id": 1, "n": 0}, {"id": 1, "n": 1}, {"id": 2, "n": 2}]),
            (3, [{"id": 1, "n": 3}]),
            (2, [{"id": 1, "n": 4}]),
            (0.5, [{"id": 1, "n": 5}, {"id": 2, "n": 6}]),
        ]:
            clock.advance(step_s)
            await wait_all_tasks_blocked()
            source.feed(batch)
            await wait_all_tasks_blocked()
        source.end()

    drive(tmp_path, text, script, clock=clock, sources={"s": source}, sinks={"out": out})
    # kept at 50.0 s; 53.0 and 55.0 s are within 5 s of it; 55.5 s is not
    assert [r["n"] for r in out.records] == [0, 2, 5, 6]


# -- join ----------------------------------------------------------------------------------------


def expected_join(
    left: list[dict], right: list[dict], on: str, within: int, right_name: str
) -> list[dict]:
    out = []
    for lr in left:
        for rr in right:
            if lr.get(on) is None or lr.get(on) != rr.get(on):
                continue
            if abs(lr["ts"] - rr["ts"]) > within:
                continue
            merged = dict(lr)
            for name, value in rr.items():
                if name != on:
                    merged[f"{right_name}_{name}" if name in lr else name] = value
            out.append(merged)
    return out


def sides(records: list[dict], side: str) -> list[dict]:
    """Left records carry `v` and `a`; right ones `b`, and `v` only when it is not null (so
    `v` clashes on some pairs and not on others)."""
    out = []
    for i, r in enumerate(records):
        record = {"ts": r["ts"], "k": r["k"], side: i}
        if side == "a" or r["v"] is not None:
            record["v"] = r["v"]
        out.append(record)
    return out


JOIN = """set batch_size = {batch_size}
source l = file("unused-l.jsonl")
source r = file("unused-r.jsonl")
sink out = file("out.jsonl")
stream rs = r | event_time ts lateness {lateness}ms
l | event_time ts lateness {lateness}ms | join rs on k within {within}ms | into out
"""


@settings(max_examples=100, deadline=None)
@given(
    disorder=st.integers(0, 20),
    within=st.sampled_from([0, 2, 10, 30]),
    batch_size=st.sampled_from([1, 4, 1000]),
    left_sizes=batch_sizes(),
    right_sizes=batch_sizes(),
    data=st.data(),
)
def test_join_equals_reference_wherever_batches_are_cut(
    workdir: Path,
    disorder: int,
    within: int,
    batch_size: int,
    left_sizes: list[int],
    right_sizes: list[int],
    data: st.DataObject,
) -> None:
    left = sides(data.draw(disordered(disorder, max_size=30, max_step=8)), "a")
    right = sides(data.draw(disordered(disorder, max_size=30, max_step=8)), "b")
    text = JOIN.format(batch_size=batch_size, lateness=disorder, within=within)
    got = run(
        text, workdir, {"l": MemorySource(left, left_sizes), "r": MemorySource(right, right_sizes)}
    )
    assert canonical(got) == canonical(expected_join(left, right, "k", within, "rs"))


def test_join_emits_pair_when_second_record_arrives(tmp_path: Path) -> None:
    left, right, out = FeedSource(), FeedSource(), CollectSink()

    async def script() -> None:
        left.feed([{"ts": 100, "k": 1, "page": "/a"}])
        await wait_all_tasks_blocked()
        assert out.records == []
        right.feed([{"ts": 95, "k": 1, "amount": 3.5}, {"ts": 89, "k": 1, "amount": 9.0}])
        await wait_all_tasks_blocked()
        assert out.records == [{"ts": 100, "k": 1, "page": "/a", "rs_ts": 95, "amount": 3.5}]
        left.feed([{"ts": 104, "k": 1, "page": "/b"}, {"ts": 104, "k": 2, "page": "/c"}])
        await wait_all_tasks_blocked()
        assert out.records[1:] == [{"ts": 104, "k": 1, "page": "/b", "rs_ts": 95, "amount": 3.5}]
        left.end()
        right.end()

    drive(
        tmp_path,
        JOIN.format(batch_size=10, lateness=50, within=10),
        script,
        sources={"l": left, "r": right},
        sinks={"out": out},
    )


def test_join_never_matches_null_or_missing_keys(tmp_path: Path) -> None:
    left = [{"ts": 0, "k": None, "a": 1}, {"ts": 0, "a": 2}, {"ts": 0, "k": 0, "a": 3}]
    right = [{"ts": 0, "k": None, "b": 1}, {"ts": 0, "b": 2}, {"ts": 0, "k": 0, "b": 3}]
    got = run(
        JOIN.format(batch_size=10, lateness=0, within=5),
        tmp_path,
        {"l": MemorySource(left), "r": MemorySource(right)},
    )
    assert got == [{"ts": 0, "k": 0, "a": 3, "rs_ts": 0, "b": 3}]


def test_join_renames_only_clashing_right_fields(tmp_path: Path) -> None:
    left = [{"ts": 10, "k": "u", "name": "left", "rs_name": "kept"}]
    right = [{"ts": 12, "k": "u", "name": "right", "extra": True}]
    got = run(
        JOIN.format(batch_size=10, lateness=0, within=5),
        tmp_path,
        {"l": MemorySource(left), "r": MemorySource(right)},
    )
    assert got == [
        {"ts": 10, "k": "u", "name": "left", "rs_name": "right", "rs_ts": 12, "extra": True}
    ]


def test_join_on_keys_named_differently_keeps_both_fields(tmp_path: Path) -> None:
    left = [{"ts": 10, "user": 1, "page": "/a"}, {"ts": 10, "user": 2, "page": "/a"}]
    right = [{"ts": 12, "uid": 1, "path": "/a", "user": "someone", "page": "/b"}]
    text = JOIN.format(batch_size=10, lateness=0, within=5)
    got = run(
        text.replace("on k", "on user = uid, page = path"),
        tmp_path,
        {"l": MemorySource(left), "r": MemorySource(right)},
    )
    assert got == [
        {
            **{"ts": 10, "user": 1, "page": "/a"},
            **{"rs_ts": 12, "uid": 1, "path": "/a", "rs_user": "someone", "rs_page": "/b"},
        }
    ]


def test_join_on_several_keys_matches_none_with_a_null_key(tmp_path: Path) -> None:
    left = [{"ts": 0, "k": 1, "c": None, "a": 1}, {"ts": 0, "k": 1, "a": 2}]
    left.append({"ts": 0, "k": 1, "c": "x", "a": 3})
    right = [{"ts": 0, "k": 1, "c": None, "b": 1}, {"ts": 0, "k": 1, "c": "x", "b": 2}]
    text = JOIN.format(batch_size=10, lateness=0, within=5).replace("on k", "on k, c")
    got = run(text, tmp_path, {"l": MemorySource(left), "r": MemorySource(right)})
    assert got == [{"ts": 0, "k": 1, "c": "x", "a": 3, "rs_ts": 0, "b": 2}]


def test_join_on_processing_time_pairs_records_arriving_within_span(tmp_path: Path) -> None:
    left, right, out, clock = FeedSource(), FeedSource(), CollectSink(), ManualClock()
    text = (
        'source l = file("unused-l.jsonl")\nsource r = file("unused-r.jsonl")\n'
        'sink out = file("out.jsonl")\nl | join r on k within 5s | into out\n'
    )

    async def script() -> None:
        left.feed([{"k": 1, "n": "l0"}])
        await wait_all_tasks_blocked()
        clock.advance(5)
        await wait_all_tasks_blocked()
        right.feed([{"k": 1, "n": "r5"}])  # exactly 5 s later: within
        await wait_all_tasks_blocked()
        clock.advance(0.5)
        await wait_all_tasks_blocked()
        right.feed([{"k": 1, "n": "r5.5"}])  # pairs with nothing: l0 is 5.5 s old
        await wait_all_tasks_blocked()
        clock.advance(10)
        await wait_all_tasks_blocked()
        left.feed([{"k": 1, "n": "l15.5"}])  # both right records are too old by now
        await wait_all_tasks_blocked()
        left.end()
        right.end()

    drive(tmp_path, text, script, clock=clock, sources={"l": left, "r": right}, sinks={"out": out})
    assert out.records == [{"k": 1, "n": "l0", "r_n": "r5"}]


# -- lookup --------------------------------------------------------------------------------------


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(text.getvalue())


def lookup(tmp_path: Path, records: list[dict], table: str, schema: str = "") -> list[dict]:
    write_jsonl(tmp_path / "in.jsonl", records)
    out = CollectSink()
    run_pipeline(
        f'{schema}source s = file("in.jsonl")\nsink out = file("out.jsonl")\n'
        f"{table}\ns | lookup users on user | into out\n",
        tmp_path,
        sinks={"out": out},
    )
    return out.records


def test_lookup_csv_table_without_schema_matches_keys_as_text(tmp_path: Path) -> None:
    write_csv(
        tmp_path / "users.csv",
        ["user", "name", "plan"],
        [[1, "ann", "pro"], [2, "bob", "free"], ["x", "xen", "free"], ["", "nobody", ""]],
    )
    records = [
        {"user": 1},
        {"user": "2"},
        {"user": "x"},
        {"user": 3},
        {"user": 1.0},
        {"user": None},
        {"other": 0},
    ]
    out = lookup(tmp_path, records, 'table users = file("users.csv", format="csv", key="user")')
    assert out == [
        {"user": 1, "name": "ann", "plan": "pro"},
        {"user": "2", "name": "bob", "plan": "free"},
        {"user": "x", "name": "xen", "plan": "free"},
        {"user": 3, "name": None, "plan": None},
        {"user": 1.0, "name": None, "plan": None},  # "1.0" is not "1"
        {"user": None, "name": None, "plan": None},
        {"other": 0, "name": None, "plan": None},
    ]


def test_lookup_table_fields_replace_record_fields_and_missing_key_nulls_them(
    tmp_path: Path,
) -> None:
    write_jsonl(
        tmp_path / "users.jsonl",
        [{"user": 1, "name": "ann", "plan": "pro"}, {"name": "keyless", "plan": "none"}],
    )
    out = lookup(
        tmp_path,
        [
            {"user": 1, "name": "old", "n": 5},
            {"user": 7, "name": "old"},
            {"user": None, "name": "old"},
        ],
        'table users: User = file("users.jsonl", key="user")',
        schema="schema User {\n  user: int\n  name: str\n  plan: str?\n}\n",
    )
    assert out == [
        {"user": 1, "name": "ann", "n": 5, "plan": "pro"},
        {"user": 7, "name": None, "plan": None},
        {"user": None, "name": None, "plan": None},
    ]  # null matches no row


def test_lookup_table_with_schema_matches_typed_keys_only(tmp_path: Path) -> None:
    write_csv(tmp_path / "users.csv", ["user", "name"], [[1, "ann"], [2, "bob"]])
    out = lookup(
        tmp_path,
        [{"user": 2}, {"user": "1"}],
        'table users: User = file("users.csv", format="csv", key="user")',
        schema="schema User {\n  user: int\n  name: str\n}\n",
    )
    assert out == [{"user": 2, "name": "bob"}, {"user": "1", "name": None}]


@settings(max_examples=60, deadline=None)
@given(
    table=st.dictionaries(
        st.integers(-5, 20),
        st.tuples(st.text("abc", max_size=3), st.sampled_from(["p", "q"])),
        min_size=1,
        max_size=8,
    ),
    records=st.lists(
        st.fixed_dictionaries(
            {
                "user": st.one_of(st.none(), st.integers(-5, 25), st.integers(-5, 25).map(str)),
                "plan": st.sampled_from(["mine", None]),
            }
        ),
        max_size=20,
    ),
)
def test_lookup_csv_table_equals_reference(workdir: Path, table: dict, records: list) -> None:
    write_csv(
        workdir / "users.csv",
        ["user", "name", "plan"],
        [[key, name, plan] for key, (name, plan) in table.items()],
    )
    as_text = {str(key): {"name": name, "plan": plan} for key, (name, plan) in table.items()}
    missing = {"name": None, "plan": None}
    expected = []
    for r in records:
        row = as_text.get(str(r["user"])) if r["user"] is not None else None
        expected.append({**r, **(row or missing)})
    got = lookup(workdir, records, 'table users = file("users.csv", format="csv", key="user")')
    assert got == expected
