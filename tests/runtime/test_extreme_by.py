"""`max_by(value, by)` and `min_by(value, by)` against DuckDB's `arg_max` and `arg_min` over the
same generated data, per key and tumbling window; both skip records whose value or `by` is
null. `by` values are distinct here, since of equal ones rillet keeps the first to arrive and
DuckDB any."""

from __future__ import annotations

import random
from pathlib import Path

import anyio
import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from rillet.runtime import execute
from tests.runtime._collect import CollectSink
from tests.runtime._streams import compiled_plan, write_jsonl

PIPELINE = """source s = file("data.jsonl")
sink out = file("out.jsonl")
s | event_time ts lateness 1h | window tumbling 10ms
  | aggregate by k { top = max_by(c, v), bottom = min_by(c, v), n = count() } | into out
"""


def rillet_rows(base_dir: Path) -> list[tuple]:
    plan, registry = compiled_plan(PIPELINE, base_dir)
    sink = CollectSink()
    anyio.run(lambda: execute(plan, registry, sinks={"out": sink}))
    return sorted((r["window_start"], r["k"], r["top"], r["bottom"]) for r in sink.records)


def duckdb_rows(path: Path) -> list[tuple]:
    data = (
        f"SELECT * FROM read_json('{path}', format='newline_delimited', "
        "columns={ts: 'BIGINT', k: 'VARCHAR', v: 'BIGINT', c: 'VARCHAR'})"
    )
    with duckdb.connect() as db:
        rows = db.sql(
            f"SELECT ts - ts % 10 AS w, k, arg_max(c, v), arg_min(c, v) FROM ({data}) GROUP BY w, k"
        ).fetchall()
    return sorted(rows)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 60),
    seed=st.integers(0, 10**6),
    nulls=st.floats(0, 0.4),
)
def test_max_by_and_min_by_match_duckdb(tmp_path_factory, n: int, seed: int, nulls: float):
    rng = random.Random(seed)
    bys = rng.sample(range(-1000, 1000), n)  # distinct: no ties to break
    records = [
        {
            "ts": rng.randrange(0, 50),
            "k": rng.choice("ab"),
            "v": None if rng.random() < nulls else by,
            "c": None if rng.random() < nulls else f"c{i}",
        }
        for i, by in enumerate(bys)
    ]
    folder = tmp_path_factory.mktemp("extreme_by")
    path = write_jsonl(folder / "data.jsonl", records)
    assert rillet_rows(folder) == duckdb_rows(path)


def test_of_equal_bys_the_first_to_arrive_wins(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "data.jsonl",
        [{"ts": 1, "k": "a", "v": 5, "c": "first"}, {"ts": 2, "k": "a", "v": 5, "c": "second"}],
    )
    assert rillet_rows(tmp_path) == [(0, "a", "first", "first")]
