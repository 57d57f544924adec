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


def typed(text: str, tmp_path: Path, declarations: str = SCHEMA) -> bool:
    """Whether the one source of `declarations` + `text` hands out typed records."""
    compiled = compile_pipeline(declarations + text, tmp_path)
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


# -- through `event_time` into a window ------------------------------------------------------------

TIMED = """schema Click {
  ts: int?
  user: int?
  class: float
  note: str?
}
source clicks: Click = file("clicks.jsonl")
sink out = file("out.jsonl")
sink late = file("late.jsonl")
sink bad = file("bad.jsonl")
errors into bad
"""

WINDOWED = (
    "clicks | event_time ts lateness 1s | window tumbling 10s "
    "| aggregate by user { n = count(), total = sum(class), ratio = sum(10 / class) } | into out"
)
UNTYPED = "\nclicks | where ts == -1 | into late"  # a reader that takes the records themselves


def typed_timed(text: str, tmp_path: Path) -> bool:
    return typed(text, tmp_path, TIMED)


@pytest.mark.parametrize(
    ("flow", "expected"),
    [
        (WINDOWED, True),
        (WINDOWED.replace("tumbling 10s", "sliding 10s every 5s"), True),
        (WINDOWED.replace("tumbling 10s", "session gap 5s"), False),
        (WINDOWED.replace("| into out", "| late into late | into out"), False),
        (WINDOWED + UNTYPED, False),
        ("clicks | event_time ts | window tumbling 10s | top 1 by class | into out", False),
        (
            "clicks | event_time ts | window tumbling 10s | aggregate { c = collect(this) } "
            "| into out",
            False,
        ),
        ("clicks | event_time ts | dedupe by user within 1s | into out", False),
        ("clicks | event_time ts | aggregate by user { n = count() } | into out", False),
    ],
)
def test_a_source_read_through_event_time_by_pane_windows_only_is_typed(
    flow: str, expected: bool, tmp_path: Path
) -> None:
    assert typed_timed(flow, tmp_path) is expected


CLICKS = [
    {"ts": 1_000, "user": 1, "class": 2.0, "note": "a", "extra": True},
    {"ts": 2_000, "user": 2, "class": 5.0},
    {"ts": None, "user": 1, "class": 1.0},  # no time: an error record
    {"ts": 3_000, "user": 1, "class": 0.0},  # 10 / 0: an error record
    {"ts": 14_000, "user": None, "class": 4.0},  # closes [0, 10s) with the lateness
    {"ts": 4_000, "user": 2, "class": 1.0, "note": "late"},  # late: dropped
    {"ts": 15_000, "user": None, "class": 1.0},
]


@pytest.mark.parametrize("window", ["tumbling 10s", "sliding 10s every 5s"])
def test_typed_windows_give_the_rows_and_errors_of_dicts(window: str, tmp_path: Path) -> None:
    (tmp_path / "clicks.jsonl").write_text("".join(json.dumps(r) + "\n" for r in CLICKS))
    flow = WINDOWED.replace("tumbling 10s", window)
    runs = {}
    for name, text in (("typed", flow), ("dicts", flow + UNTYPED)):
        assert typed_timed(text, tmp_path) is (name == "typed")
        run_pipeline(TIMED + text, tmp_path)
        runs[name] = {
            sink: [json.loads(x) for x in (tmp_path / f"{sink}.jsonl").read_text().splitlines()]
            for sink in ("out", "bad")
        }
    typed_run, dicts = runs["typed"], runs["dicts"]
    assert typed_run["out"] == dicts["out"]
    if window.startswith("tumbling"):
        assert typed_run["out"] == [
            {"window_start": 0, "window_end": 10_000, "user": 1, "n": 1, "total": 2.0, "ratio": 5},
            {"window_start": 0, "window_end": 10_000, "user": 2, "n": 1, "total": 5.0, "ratio": 2},
            {
                "window_start": 10_000,
                "window_end": 20_000,
                "user": None,
                "n": 2,
                "total": 5.0,
                "ratio": 12.5,
            },
        ]
    assert [(e["reason"], e["offset"]) for e in typed_run["bad"]] == [
        (e["reason"], e["offset"]) for e in dicts["bad"]
    ]
    assert len(typed_run["bad"]) == 2
    # a bad record's raw holds every field of the schema, null where the line had none
    raws = sorted((e["raw"] for e in typed_run["bad"]), key=lambda raw: raw["class"])
    assert raws[0] == {"ts": 3_000, "user": 1, "class": 0.0, "note": None}
