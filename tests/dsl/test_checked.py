"""What the check hands on (`dsl/checked.py`) is frozen and holds what every later stage needs,
found once: the record type and the event time at each operator, each plugin operator's
arguments evaluated, the plugins the pipeline `use`s."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from rillet.dsl import ast
from tests.conftest import compile_pipeline

PIPELINE = """schema Click { ts: int, user: str, page: str }
source clicks: Click = file("clicks.jsonl")
sink out = file("out.jsonl")
stream timed = clicks | event_time ts lateness 2s
timed
  | select user, page, ts
  | window tumbling 10s
  | aggregate by user { n = count() }
  | into out
"""


def checked(tmp_path: Path):
    compiled = compile_pipeline(PIPELINE, tmp_path)
    assert compiled.ok and compiled.checked is not None, compiled.diagnostics
    return compiled.checked


def test_each_operator_has_its_record_type_and_event_time(tmp_path: Path) -> None:
    c = checked(tmp_path)
    flow = c.flows[0]
    select, window, aggregate = flow.ops[0], flow.ops[1], flow.ops[2]
    assert isinstance(select, ast.SelectOp) and isinstance(window, ast.WindowOp)
    types = c.types[select]
    assert types is not None and list(types.fields or {}) == ["user", "page", "ts"]
    aggregated = c.types[aggregate]
    assert aggregated is not None
    assert list(aggregated.fields or {}) == ["user", "window_start", "window_end", "n"]
    time = c.times[window]
    assert time is not None and time.field.text == "ts" and time.lateness is not None
    assert time.lateness.ms == 2000
    assert c.stream_times["timed"] is time
    assert c.times[flow.ops[-1]] is None, "an aggregate makes new records: no event time after"


def test_the_checked_program_cannot_be_changed(tmp_path: Path) -> None:
    c = checked(tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.error_sink = "out"  # type: ignore[misc]
    with pytest.raises(TypeError):
        c.sinks["other"] = c.sinks["out"]  # type: ignore[index]
    assert isinstance(c.flows, tuple)
