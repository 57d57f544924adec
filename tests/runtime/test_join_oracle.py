"""DuckDB as an oracle for `join` and `left join` (runtime/join.py): the same join computed in
SQL over the same generated records, `JOIN` or `LEFT JOIN ... ON` each key pair equal
`AND abs(l.ts - r.ts) <= D` (without `within`, a regular join, no time condition), compared as
multisets of output records (the order of a join's output depends on how its inputs
interleave, and a left join writes its left records without partner when they are forgotten).

Both sides are generated with bounded disorder and a lateness that covers it, so no record is
late and none is forgotten before a partner arrives: the join then owes exactly SQL's answer,
wherever the batches are cut. Nulls are left out of the records compared, since SQL has no
missing column to tell from a null one.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable
from pathlib import Path

import anyio
import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rillet.runtime import ManualClock, execute
from rillet.runtime.compile import compile_plan
from rillet.runtime.inputs import Inputs
from rillet.runtime.item import Batch, Origin, Watermark
from rillet.runtime.join import JoinOperator
from rillet.runtime.operator import Output
from tests.runtime._collect import CollectSink
from tests.runtime._streams import (
    MemorySource,
    batch_sizes,
    compiled_plan,
    disordered,
    write_jsonl,
)

KEYS = {
    "shared": (("k", "k"),),
    "renamed": (("k", "x"),),
    "several": (("k", "k"), ("c", "c")),
    "several renamed": (("k", "x"), ("c", "y")),
}
"""`on` spellings, as (left field, right field) pairs."""
TYPES = {"ts": "BIGINT", "id": "INTEGER", "v": "INTEGER", "k": "VARCHAR", "c": "VARCHAR"}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("join-oracle")


@pytest.fixture(scope="module")
def db():
    connection = duckdb.connect()
    yield connection
    connection.close()


def side(records: list[dict], keys: tuple[str, ...]) -> list[dict]:
    """Generated `{ts, k, v, c}` records as one side's: an `id`, `v` (on both sides, so it
    clashes), and the key fields named `keys`, valued as `k` and `c` were."""
    return [
        {"ts": r["ts"], "id": i, "v": r["v"], **{f: r[g] for f, g in zip(keys, ("k", "c"))}}
        for i, r in enumerate(records)
    ]


def on_text(pairs: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(a if a == b else f"{a} = {b}" for a, b in pairs)


def pipeline(kind: str, pairs: tuple[tuple[str, str], ...], within: int | None, lateness: int):
    bound = "" if within is None else f" within {within}ms"
    return f"""source l = file("unused-l.jsonl")
source r = file("unused-r.jsonl")
sink out = file("out.jsonl")
stream rs = r | event_time ts lateness {lateness}ms
l | event_time ts lateness {lateness}ms | {kind} rs on {on_text(pairs)}{bound} | into out
"""


def rillet_join(
    workdir: Path,
    kind: str,
    pairs: tuple[tuple[str, str], ...],
    within: int | None,
    lateness: int,
    left: list[dict],
    right: list[dict],
    cuts: tuple[list[int], list[int]],
) -> list[dict]:
    plan, registry = compiled_plan(pipeline(kind, pairs, within, lateness), workdir)
    out = CollectSink()
    sources = {"l": MemorySource(left, cuts[0]), "r": MemorySource(right, cuts[1])}
    anyio.run(lambda: execute(plan, registry, sources=sources, sinks={"out": out}))
    return out.records


def table(db, name: str, records: list[dict], fields: list[str], folder: Path) -> None:
    path = write_jsonl(folder / f"{name}.jsonl", records)
    columns = ", ".join(f"{f}: '{TYPES.get(f, 'VARCHAR')}'" for f in fields)
    db.execute(
        f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM read_json('{path}', "
        f"format='newline_delimited', columns={{{columns}}})"
    )


def duckdb_join(
    db,
    folder: Path,
    kind: str,
    pairs: tuple[tuple[str, str], ...],
    within: int | None,
    left: list[dict],
    right: list[dict],
) -> list[dict]:
    """SQL's join, each row merged as `join` merges a pair: the right's fields after the left's,
    `rs_NAME` where the left has NAME, its copy of a key both sides name alike left out."""
    left_fields = ["ts", "id", "v", *(a for a, _ in pairs)]
    right_fields = ["ts", "id", "v", *(b for _, b in pairs)]
    table(db, "l", left, left_fields, folder)
    table(db, "r", right, right_fields, folder)
    on = " AND ".join(f"l.{a} = r.{b}" for a, b in pairs)
    on += "" if within is None else f" AND abs(l.ts - r.ts) <= {within}"
    columns = ", ".join([*(f"l.{f}" for f in left_fields), *(f"r.{f}" for f in right_fields)])
    rows = db.execute(f"SELECT {columns} FROM l {kind.upper()} r ON {on}").fetchall()
    shared = {a for a, b in pairs if a == b}
    out = []
    for row in rows:
        merged = dict(zip(left_fields, row[: len(left_fields)]))
        for name, value in zip(right_fields, row[len(left_fields) :]):
            if name not in shared:
                merged[f"rs_{name}" if name in left_fields else name] = value
        out.append(merged)
    return out


def multiset(records: list[dict]) -> list[str]:
    return sorted(
        json.dumps({k: v for k, v in r.items() if v is not None}, sort_keys=True) for r in records
    )


def check(
    db,
    workdir: Path,
    kind: str,
    spelling: str,
    within: int | None,
    lateness: int,
    sides: tuple[list[dict], list[dict]],
    cuts: tuple[list[int], list[int]],
) -> int:
    """Asserts that rillet's join of generated `{ts, k, v, c}` records equals SQL's; the
    number of records it made."""
    pairs = KEYS[spelling]
    left = side(sides[0], tuple(a for a, _ in pairs))
    right = side(sides[1], tuple(b for _, b in pairs))
    got = rillet_join(workdir, kind, pairs, within, lateness, left, right, cuts)
    assert multiset(got) == multiset(duckdb_join(db, workdir, kind, pairs, within, left, right))
    return len(got)


@settings(max_examples=80, deadline=None)
@given(
    kind=st.sampled_from(["join", "left join"]),
    spelling=st.sampled_from(list(KEYS)),
    disorder=st.integers(0, 20),
    within=st.sampled_from([0, 3, 10, 40, None]),
    cuts=st.tuples(batch_sizes(), batch_sizes()),
    data=st.data(),
)
def test_join_matches_duckdb_wherever_batches_are_cut(
    db,
    workdir: Path,
    kind: str,
    spelling: str,
    disorder: int,
    within: int | None,
    cuts: tuple[list[int], list[int]],
    data: st.DataObject,
) -> None:
    records = disordered(disorder, min_size=5, max_size=40, keys=("a", "b", None), max_step=3)
    sides = (data.draw(records), data.draw(records))
    check(db, workdir, kind, spelling, within, disorder, sides, cuts)


def generated(rng: random.Random, count: int) -> list[dict]:
    """`count` records a few ms apart, up to 50 ms out of order, over 20 keys and 3 kinds."""
    front, out = 0, []
    for _ in range(count):
        front += rng.randrange(0, 4)
        out.append(
            {
                "ts": front - rng.randrange(0, 50),
                "k": rng.choice([*"abcdefghijklmnopqrst", None]),
                "v": rng.randrange(100),
                "c": rng.choice(["x", "y", "z", None]),
            }
        )
    return out


@pytest.mark.parametrize("kind", ["join", "left join"])
@pytest.mark.parametrize("spelling", list(KEYS))
def test_join_matches_duckdb_on_many_records(db, workdir: Path, kind: str, spelling: str) -> None:
    rng = random.Random(spelling)
    sides = (generated(rng, 3000), generated(rng, 3000))
    cuts = ([rng.randrange(1, 300) for _ in range(40)], [rng.randrange(1, 300) for _ in range(40)])
    assert check(db, workdir, kind, spelling, 30, 50, sides, cuts) > 1000


@pytest.mark.parametrize("kind", ["join", "left join"])
@pytest.mark.parametrize("spelling", ["shared", "several renamed"])
def test_regular_join_matches_duckdb_on_bounded_inputs(
    db, workdir: Path, kind: str, spelling: str
) -> None:
    """Without `within`, every pair of equal keys matches, however far apart in time: the
    records are kept to the end of both inputs (and a left join's unmatched ones written
    then)."""
    rng = random.Random(spelling)
    sides = (generated(rng, 600), generated(rng, 600))
    cuts = ([rng.randrange(1, 100) for _ in range(20)], [rng.randrange(1, 100) for _ in range(20)])
    assert check(db, workdir, kind, spelling, None, 50, sides, cuts) > 2000


def batches(records: list[dict], sizes: list[int]) -> list[list[dict]]:
    """`records` cut into batches of `sizes`, the rest in one last batch."""
    ends = [min(sum(sizes[: i + 1]), len(records)) for i in range(len(sizes))]
    cuts = [0, *ends, len(records)]
    return [records[a:b] for a, b in zip(cuts, cuts[1:]) if a < b]


@functools.cache
def operator_factory(text: str, workdir: Path) -> Callable[[], JoinOperator]:
    plan, registry = compiled_plan(text, workdir)

    def build() -> JoinOperator:
        physical = compile_plan(plan, registry, ManualClock())
        (op,) = [
            n.operator for n in physical.nodes.values() if isinstance(n.operator, JoinOperator)
        ]
        return op

    return build


def interleaved(sides: list[list[list[dict]]], order: list[bool], lateness: int) -> list[tuple]:
    """Both sides' batches in the order `order` takes them (True: the left's next), each
    followed by the merged watermark when it moved, as a run sends them to the join."""
    merge, highest, steps = Inputs(2), [-(2**63), -(2**63)], []
    for take_left in [*order, *[True] * len(sides[0]), *[False] * len(sides[1])]:
        port = 0 if take_left and sides[0] or not sides[1] else 1
        if not sides[port]:
            break
        batch = sides[port].pop(0)
        steps.append(("batch", port, batch))
        top = max(r["ts"] for r in batch)
        if top > highest[port]:
            highest[port] = top
            merged = merge.watermark(port, Watermark(top - lateness))
            if merged is not None:
                steps.append(("watermark", port, merged.ts_ms))
    return steps


@settings(max_examples=80, deadline=None)
@given(
    kind=st.sampled_from(["join", "left join"]),
    spelling=st.sampled_from(list(KEYS)),
    disorder=st.integers(0, 20),
    within=st.sampled_from([0, 3, 10, 40]),
    cuts=st.tuples(batch_sizes(6), batch_sizes(6)),
    order=st.lists(st.booleans(), max_size=40),
    data=st.data(),
)
def test_join_matches_duckdb_however_the_sides_interleave(
    db,
    workdir: Path,
    kind: str,
    spelling: str,
    disorder: int,
    within: int,
    cuts: tuple[list[int], list[int]],
    order: list[bool],
    data: st.DataObject,
) -> None:
    """The operator driven directly: each side's batches and the watermarks they make, the
    sides interleaved in every order, so a left record is written alone exactly when no
    partner can come any more."""
    pairs = KEYS[spelling]
    records = disordered(disorder, min_size=5, max_size=40, keys=("a", "b", None), max_step=3)
    left = side(data.draw(records), tuple(a for a, _ in pairs))
    right = side(data.draw(records), tuple(b for _, b in pairs))
    op = operator_factory(pipeline(kind, pairs, within, disorder), workdir)()
    out = Output()
    for what, port, value in interleaved(
        [batches(left, cuts[0]), batches(right, cuts[1])], order, disorder
    ):
        if what == "batch":
            op.process(Batch(value, list(range(len(value))), Origin(f"s{port}")), port, out)
        else:
            op.on_watermark(value, out)
    op.on_end(out)
    expected = duckdb_join(db, workdir, kind, pairs, within, left, right)
    assert multiset(out.records) == multiset(expected)
