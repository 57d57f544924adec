"""What the tests of steps that do not map share: two sources with event time to combine, and
`rillet check --engine flink` of a pipeline, expected to refuse it, with what it printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from rillet.dsl.cli import main

TWO_TIMED_SOURCES = """schema T {
  ts: int
  k: str
  v: int?
}

source a: T = file("a.jsonl")
source b: T = file("b.jsonl")
sink out = file("out.jsonl")
stream ta = a | event_time ts
stream tb = b | event_time ts

"""
"""Lines 1-12: a flow written after it starts on line 13."""


def refused(path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> str:
    """`text` written to `path` and checked for Flink: refused (exit 2); what it printed."""
    path.write_text(text)
    assert main(["check", "--engine", "flink", str(path)]) == 2
    return capsys.readouterr().err
