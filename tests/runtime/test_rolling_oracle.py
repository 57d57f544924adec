"""DuckDB as an oracle for `rolling` (runtime/rolling.py): every record's aggregates over its
key's range of event time are SQL's window functions over `RANGE BETWEEN INTERVAL ... PRECEDING
AND CURRENT ROW` (ties of the current row included), and over its last N records `ROWS BETWEEN
N-1 PRECEDING AND CURRENT ROW` ordered by time and then arrival (`seq`, the record's place in
the input). Inputs come out of order within the lateness and are cut into batches at places
hypothesis picks: the results must not depend on either. Floats are compared with a tolerance,
since sums depend on the order of addition.
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
from tests.runtime._streams import MemorySource, batch_sizes, compiled_plan, disordered, write_jsonl

AGGREGATES = """{ n = count(), total = sum(v), lo = min(v), hi = max(v), mean = avg(v),
                  median = quantile(v, 0.5), kinds = count_distinct(c), values = collect(v),
                  head = first(v), tail = last(v) }"""
SQL_AGGREGATES = """count(*) OVER w, sum(v) OVER w, min(v) OVER w, max(v) OVER w,
                    avg(v) OVER w, quantile_cont(v, 0.5) OVER w, count(DISTINCT c) OVER w,
                    list(v) FILTER (WHERE v IS NOT NULL) OVER w,
                    first_value(v IGNORE NULLS) OVER w, last_value(v IGNORE NULLS) OVER w"""
COLUMNS = ("seq", "n", "total", "lo", "hi", "mean", "median", "kinds", "values", "head", "tail")
VALUES = st.one_of(
    st.none(), st.floats(-1000, 1000, allow_nan=False), st.integers(-1000, 1000).map(float)
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rolling-oracle")


@pytest.fixture(scope="module")
def db():
    connection = duckdb.connect()
    yield connection
    connection.close()


def rillet_rolling(
    base_dir: Path, records: list[dict], sizes: list[int], lateness: int, within: int, last: int
) -> dict[str, list[tuple]]:
    text = f"""source s = file("data.jsonl")
sink range = file("range.jsonl")
sink rows = file("rows.jsonl")
stream t = s | event_time ts lateness {lateness}ms
t | rolling {within}ms by k {AGGREGATES} | into range
t | rolling last {last} by k {AGGREGATES} | into rows
"""
    plan, registry = compiled_plan(text, base_dir)
    sinks = {"range": CollectSink(), "rows": CollectSink()}
    source = MemorySource(records, sizes)
    metrics = anyio.run(lambda: execute(plan, registry, sinks=sinks, sources={"s": source}))
    assert sum(m.late for m in metrics.nodes.values()) == 0
    out = {}
    for name, sink in sinks.items():
        stamps = [(r["ts"], r["seq"]) for r in sink.records]
        assert stamps == sorted(stamps), f"{name}: not in event-time order, ties by arrival"
        assert [r["k"] for r in sink.records] == [records[r["seq"]]["k"] for r in sink.records]
        out[name] = [tuple(r[c] for c in COLUMNS) for r in sink.records]
    return out


def duckdb_rolling(db, path: Path, within: int, last: int) -> dict[str, list[tuple]]:
    data = (
        f"SELECT * FROM read_json('{path}', format='newline_delimited', "
        "columns={seq: 'BIGINT', ts: 'BIGINT', k: 'VARCHAR', v: 'DOUBLE', c: 'VARCHAR'})"
    )
    frames = {
        "range": f"ORDER BY epoch_ms(ts) RANGE BETWEEN INTERVAL {within} MILLISECOND PRECEDING "
        "AND CURRENT ROW",
        "rows": f"ORDER BY ts, seq ROWS BETWEEN {last - 1} PRECEDING AND CURRENT ROW",
    }
    return {
        name: db.sql(
            f"SELECT seq, {SQL_AGGREGATES} FROM ({data}) "
            f"WINDOW w AS (PARTITION BY k {frame}) ORDER BY ts, seq"
        ).fetchall()
        for name, frame in frames.items()
    }


def close(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a == pytest.approx(b, rel=1e-9, abs=1e-6)


def assert_rows_match(got: list[tuple], expected: list[tuple], ordered_values: bool) -> None:
    """`ordered_values`: `collect`, `first` and `last` in SQL's order too. Over a range, SQL
    orders the ties of a row's time as it likes; rillet by arrival."""
    assert [row[:2] for row in got] == [row[:2] for row in expected]  # seq, count
    for mine, theirs in zip(got, expected):
        seq, n, total, lo, hi, mean, median, kinds, values, head, tail = mine
        assert (lo, hi, kinds) == (theirs[3], theirs[4], theirs[7]), seq
        assert all(map(close, (total, mean, median), (theirs[2], theirs[5], theirs[6]))), seq
        sql_values = theirs[8] or []
        if ordered_values:
            assert (values, head, tail) == (sql_values, theirs[9], theirs[10]), seq
        else:
            assert sorted(values) == sorted(sql_values), seq
            assert (head in values and tail in values) if values else head is tail is None


def check_against_duckdb(
    db, workdir: Path, records: list[dict], sizes: list[int], lateness: int, within: int, last: int
) -> None:
    records = [{"seq": seq, **r} for seq, r in enumerate(records)]
    path = write_jsonl(workdir / "data.jsonl", records)
    got = rillet_rolling(workdir, records, sizes, lateness, within, last)
    expected = duckdb_rolling(db, path, within, last)
    assert_rows_match(got["range"], expected["range"], ordered_values=False)
    assert_rows_match(got["rows"], expected["rows"], ordered_values=True)


@settings(max_examples=60, deadline=None)
@given(
    disorder=st.integers(0, 30),
    slack=st.integers(0, 10),
    within=st.sampled_from([0, 5, 20, 60]),
    last=st.sampled_from([1, 2, 5, 10]),
    sizes=batch_sizes(),
    data=st.data(),
)
def test_rolling_matches_duckdb_wherever_batches_are_cut(
    db,
    workdir: Path,
    disorder: int,
    slack: int,
    within: int,
    last: int,
    sizes: list[int],
    data: st.DataObject,
) -> None:
    records = data.draw(disordered(disorder, values=VALUES))
    check_against_duckdb(db, workdir, records, sizes, disorder + slack, within, last)


def test_rolling_matches_duckdb_on_many_batches(db, workdir: Path) -> None:
    """Several default-sized batches, long ranges, many ties."""
    rng = random.Random(11)
    records, front = [], 1_700_000_000_000
    for _ in range(3000):
        front += rng.randrange(0, 30)
        records.append(
            {
                "ts": front - rng.randrange(0, 300),
                "k": rng.choice("abcdefg"),
                "v": None if rng.random() < 0.1 else round(rng.uniform(-50, 50), 3),
                "c": rng.choice(["p", "q", "r", None]),
            }
        )
    check_against_duckdb(db, workdir, records, [1000] * 3, 300, 2000, 10)
