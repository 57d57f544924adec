"""DuckDB as an oracle for windowed aggregation (runtime/window.py): the same tumbling, sliding
and session aggregates computed in SQL over the same generated data, compared row for row.

Tumbling windows bucket by `ts` rounded down to a multiple of the size; sliding windows join
the data to the window starts that hold each event (`start <= ts < start + size`); sessions are
gaps and islands (a new session where the time since the key's previous event is at least the
gap: `LAG` and a running `SUM`). Floats are compared with a tolerance, since sums depend on
the order of addition.
"""

from __future__ import annotations

import random
from pathlib import Path

import anyio
import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rillet.runtime import execute
from tests.runtime._collect import CollectSink
from tests.runtime._streams import compiled_plan, disordered, three_windows, write_jsonl

AGGREGATES = """{ n = count(), total = sum(v), lo = min(v), hi = max(v), mean = avg(v),
                  median = quantile(v, 0.5), kinds = count_distinct(c) }"""
SQL_AGGREGATES = """count(*) AS n, sum(v) AS total, min(v) AS lo, max(v) AS hi, avg(v) AS mean,
                    quantile_cont(v, 0.5) AS median, count(DISTINCT c) AS kinds"""
COLUMNS = ("window_start", "window_end", "k", "n", "total", "lo", "hi", "mean", "median", "kinds")
VALUES = st.one_of(
    st.none(), st.floats(-1000, 1000, allow_nan=False), st.integers(-1000, 1000).map(float)
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("oracle")


@pytest.fixture(scope="module")
def db():
    connection = duckdb.connect()
    yield connection
    connection.close()


def rillet_windows(
    base_dir: Path, lateness: int, size: int, slide: tuple[int, int], gap: int
) -> dict[str, list[tuple]]:
    text = three_windows("data.jsonl", AGGREGATES, lateness, size, slide, gap)
    plan, registry = compiled_plan(text, base_dir)
    sinks = {name: CollectSink() for name in ("tumbling", "sliding", "sessions")}
    anyio.run(lambda: execute(plan, registry, sinks=sinks))
    out = {}
    for name, sink in sinks.items():
        ends = [r["window_end"] for r in sink.records]
        assert ends == sorted(ends), f"{name} windows out of end order"
        out[name] = ordered(tuple(r[c] for c in COLUMNS) for r in sink.records)
    return out


def ordered(rows) -> list[tuple]:
    """Rows by window end, start, then key (null first), as SQL's ORDER BY ... NULLS FIRST."""
    return sorted(rows, key=lambda r: (r[1], r[0], r[2] is not None, r[2] or ""))


def duckdb_windows(
    db, path: Path, size: int, slide: tuple[int, int], gap: int
) -> dict[str, list[tuple]]:
    data = (
        f"SELECT * FROM read_json('{path}', format='newline_delimited', "
        "columns={ts: 'BIGINT', k: 'VARCHAR', v: 'DOUBLE', c: 'VARCHAR'})"
    )
    ((low, high),) = db.sql(f"SELECT min(ts), max(ts) FROM ({data})").fetchall()
    slide_size, every = slide
    first = (low - slide_size) - (low - slide_size) % every
    order = "ORDER BY window_end, window_start, k NULLS FIRST"
    floor = f"ts - ((ts % {size}) + {size}) % {size}"  # SQL's % keeps the sign of ts
    queries = {
        "tumbling": f"""
            SELECT {floor} AS window_start, {floor} + {size} AS window_end,
                   k, {SQL_AGGREGATES}
            FROM ({data}) GROUP BY 1, 2, k {order}""",
        "sliding": f"""
            SELECT w.range AS window_start, w.range + {slide_size} AS window_end,
                   k, {SQL_AGGREGATES}
            FROM ({data}) AS d JOIN range({first}, {high + 1}, {every}) AS w
              ON d.ts >= w.range AND d.ts < w.range + {slide_size}
            GROUP BY w.range, k {order}""",
        "sessions": f"""
            WITH flagged AS (
              SELECT *, CASE WHEN ts - lag(ts) OVER (PARTITION BY k ORDER BY ts) < {gap}
                             THEN 0 ELSE 1 END AS starts
              FROM ({data})),
            numbered AS (
              SELECT *, sum(starts) OVER (PARTITION BY k ORDER BY ts
                                          ROWS UNBOUNDED PRECEDING) AS session
              FROM flagged)
            SELECT min(ts) AS window_start, max(ts) + {gap} AS window_end,
                   k, {SQL_AGGREGATES}
            FROM numbered GROUP BY k, session {order}""",
    }
    return {name: db.sql(sql).fetchall() for name, sql in queries.items()}


def assert_rows_match(got: list[tuple], expected: list[tuple]) -> None:
    assert len(got) == len(expected)
    for mine, theirs in zip(got, expected):
        assert mine[:4] == theirs[:4]  # window, key, count
        assert (mine[5], mine[6], mine[9]) == (theirs[5], theirs[6], theirs[9])  # min max kinds
        for a, b in zip((mine[4], mine[7], mine[8]), (theirs[4], theirs[7], theirs[8])):
            assert (a is None and b is None) or a == pytest.approx(b, rel=1e-9, abs=1e-6)


def check_against_duckdb(
    db,
    workdir: Path,
    records: list[dict],
    lateness: int,
    size: int,
    slide: tuple[int, int],
    gap: int,
) -> None:
    path = write_jsonl(workdir / "data.jsonl", records)
    got = rillet_windows(workdir, lateness, size, slide, gap)
    expected = duckdb_windows(db, path, size, slide, gap)
    for name in ("tumbling", "sliding", "sessions"):
        assert_rows_match(got[name], expected[name])


@settings(max_examples=50, deadline=None)
@given(
    disorder=st.integers(0, 30),
    size=st.sampled_from([5, 10, 30]),
    slide=st.sampled_from([(10, 5), (15, 10), (30, 10), (6, 4)]),
    gap=st.sampled_from([4, 10, 40]),
    data=st.data(),
)
def test_windows_match_duckdb_on_generated_data(
    db,
    workdir: Path,
    disorder: int,
    size: int,
    slide: tuple[int, int],
    gap: int,
    data: st.DataObject,
) -> None:
    records = data.draw(disordered(disorder, min_ts=0, values=VALUES).filter(bool))
    check_against_duckdb(db, workdir, records, disorder, size, slide, gap)


def test_windows_match_duckdb_on_many_batches(db, workdir: Path) -> None:
    rng = random.Random(7)
    records, front = [], 1_700_000_000_000
    for _ in range(5000):  # five default-sized batches
        front += rng.randrange(0, 40)
        records.append(
            {
                "ts": front - rng.randrange(0, 500),
                "k": rng.choice("abcdefg"),
                "v": None if rng.random() < 0.1 else round(rng.uniform(-50, 50), 3),
                "c": rng.choice(["p", "q", "r", None]),
            }
        )
    check_against_duckdb(db, workdir, records, 500, 1000, (3000, 1000), 120)
