"""Typed records: a source whose readers only read fields (`where`s, then a `select`) decodes
into Structs, and the results are those of plain dicts: field names Python does not allow as
attributes, optional fields missing or null, undeclared fields dropped, nested paths, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rillet.runtime import SystemClock
from rillet.runtime.compile import compile_plan
from rillet.runtime.memory import MemorySource
from tests.conftest import compile_pipeline, run_pipeline
from tests.runtime._collect import CollectSink

SCHEMA = """schema Row {
  id: int
  _first: str?
  class: int
  score: float?
  meta: record?
}
source rows: Row = file("rows.jsonl")
sink out = file("out.jsonl")
sink bad = file("bad.jsonl")
errors into bad
"""

ROWS = [
    {"id": 1, "_first": "Ada", "class": 3, "score": 2.5, "meta": {"tag": "x"}, "extra": 1},
    {"id": 2, "class": 4, "score": None},
    {"id": 3, "_first": None, "class": 0, "meta": {"tag": None}},
    {"id": 4, "class": 5, "score": 1.0},
]


def typed(text: str, tmp_path: Path) -> bool:
    compiled = compile_pipeline(SCHEMA + text, tmp_path)
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    physical = compile_plan(compiled.plan, compiled.checked.registry, SystemClock())
    return next(n for n in physical.nodes.values() if n.kind == "source").typed


@pytest.mark.parametrize(
    ("flow", "expected"),
    [
        ("rows | where id > 1 | select id | into out", True),
        ("rows | select id | where id > 1 | derive x = 1 | into out", True),
        ("rows | where id > 1 | into out", False),  # the records themselves go on
        ("rows | derive x = 1 | into out", False),
        ("rows | select copy = this | into out", False),
        ("rows | select id | into out\nrows | where id > 1 | into out", False),
        ("rows | select id | into out\nrows | select class | into out", True),
    ],
)
def test_only_sources_read_by_field_reading_stages_are_typed(
    flow: str, expected: bool, tmp_path: Path
) -> None:
    assert typed(flow, tmp_path) is expected


FLOW = (
    "rows | where class != 4 | select id, name = _first, class, "
    "doubled = score * 2, tag = meta.tag, ratio = 10 / class | into out"
)


def expected_output() -> list[dict]:
    return [
        {"id": 1, "name": "Ada", "class": 3, "doubled": 5.0, "tag": "x", "ratio": 10 / 3},
        {"id": 4, "name": None, "class": 5, "doubled": 2.0, "tag": None, "ratio": 2.0},
    ]


def test_typed_records_give_the_results_of_dicts(tmp_path: Path) -> None:
    assert typed(FLOW, tmp_path)
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    run_pipeline(SCHEMA + FLOW, tmp_path)
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert out == expected_output()
    (error,) = [json.loads(line) for line in (tmp_path / "bad.jsonl").read_text().splitlines()]
    assert error["reason"] == "`select` failed: division by zero"
    assert error["raw"] == {
        "id": 3,
        "_first": None,
        "class": 0,
        "score": None,
        "meta": {"tag": None},
    }


def test_a_source_that_yields_dicts_still_feeds_typed_readers(tmp_path: Path) -> None:
    out, bad = CollectSink(), CollectSink()
    rows = [*ROWS, {"id": "five", "class": 1}]
    run_pipeline(
        SCHEMA + FLOW,
        tmp_path,
        sources={"rows": MemorySource(rows)},
        sinks={"out": out, "bad": bad},
    )
    assert out.records == expected_output()
    assert sorted(e["reason"] for e in bad.records) == [
        "`select` failed: division by zero",
        "schema `Row`: expected `int`, got `str` at `id`",
    ]
