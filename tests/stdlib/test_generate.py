"""`generate(count=, rate=, seed=)` (stdlib/generate.py): deterministic synthetic click events
with the documented fields; with `rate`, only the events that are due on the run's clock, which
tests drive with `ManualClock` instead of sleeping.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import anyio
from anyio import wait_all_tasks_blocked

from rillet.runtime import ManualClock, execute
from rillet.runtime.connector import SourceContext
from rillet.runtime.plan import FieldSpec, SchemaSpec, TypeSpec
from rillet.runtime.schema import Schema
from rillet.stdlib.generate import PAGES, START_MS, USERS, GenerateConfig, GenerateSource
from tests.conftest import compile_pipeline, run_pipeline
from tests.runtime._collect import CollectSink


def _generated(tmp_path: Path, args: str, batch: int = 1000) -> tuple[CollectSink, object]:
    out = CollectSink()
    metrics = run_pipeline(
        f"set batch_size = {batch}\nsource s = generate({args})\n"
        'sink o = file("o.jsonl")\ns | into o\n',
        tmp_path,
        sinks={"o": out},
    )
    return out, metrics


def test_generate_same_seed_gives_same_events_whatever_the_batch_size(tmp_path: Path) -> None:
    first, _ = _generated(tmp_path, "count=3000, seed=7")
    again, _ = _generated(tmp_path, "count=3000, seed=7", batch=128)
    other, _ = _generated(tmp_path, "count=3000, seed=8")
    assert len(first.records) == 3000
    assert first.records == again.records
    assert first.records != other.records


def test_generate_events_have_documented_fields_and_ranges(tmp_path: Path) -> None:
    out, metrics = _generated(tmp_path, "count=10000, seed=1")
    events = out.records
    assert len(events) == 10000
    assert all(set(e) == {"ts", "user", "page", "status", "latency_ms"} for e in events)
    assert all(
        type(e["ts"]) is int
        and type(e["user"]) is int
        and type(e["status"]) is int
        and type(e["page"]) is str
        and type(e["latency_ms"]) is float
        for e in events
    )
    assert all(1 <= e["user"] <= USERS and e["page"] in PAGES for e in events)
    assert all(0 <= i - (e["ts"] - START_MS) < 2000 for i, e in enumerate(events))
    late = sum(e["ts"] != START_MS + i for i, e in enumerate(events))
    assert 800 <= late <= 1200  # about 10% are up to 2 s late
    ok = sum(e["status"] == 200 for e in events)
    assert 9300 <= ok <= 9700  # about 95%
    assert {e["status"] for e in events} <= {200, 301, 404, 500, 503}
    latencies = sorted(e["latency_ms"] for e in events)
    assert 100 <= latencies[len(latencies) // 2] <= 140  # log-normal around 120 ms
    (source,) = metrics.by_kind("source")
    assert source.records_out == 10000


def test_generate_start_ms_sets_event_time(tmp_path: Path) -> None:
    out, _ = _generated(tmp_path, "count=50, seed=2, start_ms=1000000")
    on_time = [(i, e["ts"]) for i, e in enumerate(out.records) if e["ts"] == 1_000_000 + i]
    assert len(on_time) >= 40


def test_generate_offsets_are_event_indexes() -> None:
    context = SourceContext("s", None, ManualClock(), Path("."), 4, 0.2)
    source = GenerateSource(GenerateConfig(count=10), context)

    async def main() -> list[list[int]]:
        await source.open()
        offsets = []
        while (batch := await source.read_batch()) is not None:
            offsets.append(batch.offsets)
        return offsets

    assert anyio.run(main) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_generate_validates_events_against_a_schema() -> None:
    schema = Schema(
        SchemaSpec(
            "Click", (FieldSpec("user", TypeSpec("int")), FieldSpec("page", TypeSpec("str")))
        )
    )
    context = SourceContext("s", schema, ManualClock(), Path("."), 100, 0.2)
    source = GenerateSource(GenerateConfig(count=5, seed=4), context)

    async def main():
        await source.open()
        return await source.read_batch()

    batch = anyio.run(main)
    assert len(batch.records) == 5
    assert all(set(r) == {"user", "page"} for r in batch.records)


def test_generate_with_rate_emits_only_due_events_on_manual_clock(tmp_path: Path) -> None:
    """rate=100/s, a 200 ms batch timeout: nothing is due before the clock moves; after 1 s,
    exactly 100 events; the 5 due 55 ms later go at once, without waiting for the batch
    timeout (adaptive batches); after 0.5 s in all, exactly 50 more, stamped from the clock's
    time."""
    compiled = compile_pipeline(
        "set batch_timeout = 200ms\nsource s = generate(rate=100)\n"
        'sink o = file("o.jsonl")\ns | into o\n',
        tmp_path,
    )
    assert compiled.plan is not None and compiled.checked is not None
    clock = ManualClock(start_ms=5_000)
    out = CollectSink()
    seen: list[int] = []

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(
                partial(
                    execute, compiled.plan, compiled.checked.registry, clock=clock, sinks={"o": out}
                )
            )
            await wait_all_tasks_blocked()
            seen.append(len(out.records))
            clock.advance(1.0)
            await wait_all_tasks_blocked()
            seen.append(len(out.records))
            clock.advance(0.055)
            await wait_all_tasks_blocked()
            seen.append(len(out.records))
            clock.advance(0.445)
            await wait_all_tasks_blocked()
            seen.append(len(out.records))
            tg.cancel_scope.cancel()

    anyio.run(main)
    assert seen == [0, 100, 105, 150]
    on_time = [e["ts"] for i, e in enumerate(out.records) if e["ts"] == 5_000 + 10 * i]
    assert len(on_time) >= 120


def test_generate_with_rate_and_count_ends_after_count(tmp_path: Path) -> None:
    compiled = compile_pipeline(
        'source s = generate(count=30, rate=10)\nsink o = file("o.jsonl")\ns | into o\n', tmp_path
    )
    assert compiled.plan is not None and compiled.checked is not None
    clock = ManualClock()
    out = CollectSink()
    done = anyio.Event()

    async def run() -> None:
        await execute(compiled.plan, compiled.checked.registry, clock=clock, sinks={"o": out})
        done.set()

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            while not done.is_set():
                await wait_all_tasks_blocked()
                if not done.is_set():
                    clock.advance(0.5)

    anyio.run(main)
    assert len(out.records) == 30
    assert clock.time_ms() >= 3000


def test_events_failing_the_schema_go_to_the_error_sink(tmp_path: Path) -> None:
    out, rejects = CollectSink(), CollectSink()
    run_pipeline(
        "schema G {\n  ts: int\n  user: str\n}\n"
        'source g: G = generate(count=3)\nsink o = file("o.jsonl")\nsink e = file("e.jsonl")\n'
        "errors into e\ng | into o\n",
        tmp_path,
        sinks={"o": out, "e": rejects},
    )
    assert out.records == []
    assert [r["offset"] for r in rejects.records] == [0, 1, 2]
    assert all("expected `str`, got `int` at `user`" in r["reason"] for r in rejects.records)
