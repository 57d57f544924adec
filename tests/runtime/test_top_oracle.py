"""DuckDB as an oracle for `top` (runtime/top.py): each window's and key's first N records are
SQL's `row_number() OVER (PARTITION BY window, key ORDER BY v DESC, seq) <= N`, where `seq` is a
record's place in the input (its arrival), in tumbling, sliding and session windows and over the
whole input, with one and two order fields in either direction. DuckDB sorts nulls last in both
directions by default, as `top` does. Inputs come out of order within the lateness and are cut
into batches at places hypothesis picks: the results must not depend on either.
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

VALUES = st.one_of(  # + 0.0: DuckDB and Python may order -0.0 and 0.0 apart
    st.none(), st.floats(-100, 100, allow_nan=False).map(lambda v: v + 0.0), st.integers(-5, 5)
)
ORDERS = {  # rillet's order, SQL's
    "tumbling": ("v desc", "v DESC"),
    "sliding": ("v desc, c asc", "v DESC, c ASC"),
    "sessions": ("v asc", "v ASC"),
    "whole": ("v desc, c desc", "v DESC, c DESC"),
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("top-oracle")


@pytest.fixture(scope="module")
def db():
    connection = duckdb.connect()
    yield connection
    connection.close()


def rillet_top(
    base_dir: Path, records: list[dict], sizes: list[int], lateness: int, shape: dict
) -> dict[str, list[tuple]]:
    """Each sink's rows as (window_start, window_end, k, rank, seq), checking that every row is
    its record with the window and its rank added, and that windows come out in end order."""
    n, size, (slide, every), gap = shape["n"], shape["size"], shape["slide"], shape["gap"]
    order = {name: rillet for name, (rillet, _) in ORDERS.items()}
    text = f"""source s = file("data.jsonl")
sink tumbling = file("tumbling.jsonl")
sink sliding = file("sliding.jsonl")
sink sessions = file("sessions.jsonl")
sink whole = file("whole.jsonl")
stream t = s | event_time ts lateness {lateness}ms
t | window tumbling {size}ms | top {n} by {order["tumbling"]} per k | into tumbling
t | window sliding {slide}ms every {every}ms | top {n} by {order["sliding"]} per k | into sliding
t | window session gap {gap}ms | top {n} by {order["sessions"]} per k | into sessions
s | top {n} by {order["whole"]} | into whole
"""
    plan, registry = compiled_plan(text, base_dir)
    sinks = {name: CollectSink() for name in ORDERS}
    source = MemorySource(records, sizes)
    metrics = anyio.run(lambda: execute(plan, registry, sinks=sinks, sources={"s": source}))
    assert sum(m.late for m in metrics.nodes.values()) == 0
    out = {}
    for name, sink in sinks.items():
        rows = []
        for row in sink.records:
            bounds = {k: row[k] for k in ("window_start", "window_end") if k in row}
            assert row == {**bounds, **records[row["seq"]], "rank": row["rank"]}
            rows.append((bounds.get("window_start"), bounds.get("window_end"), row["k"]))
            rows[-1] += (row["rank"], row["seq"])
        ends = [r[1] for r in rows]
        assert ends == sorted(ends, key=lambda e: e or 0), f"{name}: windows out of end order"
        out[name] = sorted(rows, key=_sortable)
    return out


def _sortable(row: tuple) -> tuple:
    start, end, k, rank, seq = row
    return (start or 0, end or 0, k is not None, k or "", rank, seq)


def duckdb_top(db, path: Path, shape: dict) -> dict[str, list[tuple]]:
    n, size, (slide, every), gap = shape["n"], shape["size"], shape["slide"], shape["gap"]
    data = (
        f"SELECT * FROM read_json('{path}', format='newline_delimited', "
        "columns={seq: 'BIGINT', ts: 'BIGINT', k: 'VARCHAR', v: 'DOUBLE', c: 'VARCHAR'})"
    )
    ((low, high),) = db.sql(f"SELECT min(ts), max(ts) FROM ({data})").fetchall()
    first = (low - slide) - (low - slide) % every
    floor = f"ts - ((ts % {size}) + {size}) % {size}"  # SQL's % keeps the sign of ts
    windowed = {
        "tumbling": f"SELECT {floor} AS ws, {floor} + {size} AS we, * FROM ({data})",
        "sliding": f"""SELECT w.range AS ws, w.range + {slide} AS we, d.* FROM ({data}) AS d
            JOIN range({first}, {high + 1}, {every}) AS w
              ON d.ts >= w.range AND d.ts < w.range + {slide}""",
        "sessions": f"""WITH flagged AS (
              SELECT *, CASE WHEN ts - lag(ts) OVER (PARTITION BY k ORDER BY ts) < {gap}
                             THEN 0 ELSE 1 END AS starts FROM ({data})),
            numbered AS (
              SELECT *, sum(starts) OVER (PARTITION BY k ORDER BY ts
                                          ROWS UNBOUNDED PRECEDING) AS session FROM flagged)
            SELECT min(ts) OVER s AS ws, max(ts) OVER s + {gap} AS we, * FROM numbered
            WINDOW s AS (PARTITION BY k, session)""",
        "whole": f"SELECT NULL AS ws, NULL AS we, * FROM ({data})",
    }
    out = {}
    for name, rows in windowed.items():
        per = "" if name == "whole" else ", k"
        sql = f"""SELECT ws, we, k, row_number() OVER (PARTITION BY ws{per}
                                                     ORDER BY {ORDERS[name][1]}, seq) AS rank,
                         seq
                  FROM ({rows}) QUALIFY rank <= {n}"""
        out[name] = sorted(db.sql(sql).fetchall(), key=_sortable)
    return out


def check_against_duckdb(
    db, workdir: Path, records: list[dict], sizes: list[int], lateness: int, shape: dict
) -> None:
    records = [{"seq": seq, **r} for seq, r in enumerate(records)]
    path = write_jsonl(workdir / "data.jsonl", records)
    got = rillet_top(workdir, records, sizes, lateness, shape)
    expected = duckdb_top(db, path, shape)
    for name in ORDERS:
        assert got[name] == expected[name], name


@settings(max_examples=60, deadline=None)
@given(
    disorder=st.integers(0, 30),
    slack=st.integers(0, 10),
    n=st.sampled_from([1, 2, 3, 5]),
    size=st.sampled_from([5, 10, 30]),
    slide=st.sampled_from([(10, 5), (15, 10), (6, 4)]),
    gap=st.sampled_from([4, 10, 40]),
    sizes=batch_sizes(),
    data=st.data(),
)
def test_top_matches_duckdb_wherever_batches_are_cut(
    db,
    workdir: Path,
    disorder: int,
    slack: int,
    n: int,
    size: int,
    slide: tuple[int, int],
    gap: int,
    sizes: list[int],
    data: st.DataObject,
) -> None:
    records = data.draw(disordered(disorder, min_ts=0, values=VALUES).filter(bool))
    shape = {"n": n, "size": size, "slide": slide, "gap": gap}
    check_against_duckdb(db, workdir, records, sizes, disorder + slack, shape)


def test_top_matches_duckdb_on_many_batches(db, workdir: Path) -> None:
    """Several default-sized batches, many keys and ties."""
    rng = random.Random(5)
    records, front = [], 1_700_000_000_000
    for _ in range(4000):
        front += rng.randrange(0, 30)
        records.append(
            {
                "ts": front - rng.randrange(0, 300),
                "k": rng.choice("abcdefg"),
                "v": None if rng.random() < 0.1 else rng.randrange(0, 40),
                "c": rng.choice(["p", "q", "r", None]),
            }
        )
    shape = {"n": 3, "size": 1000, "slide": (3000, 1000), "gap": 150}
    check_against_duckdb(db, workdir, records, [1000] * 4, 300, shape)
