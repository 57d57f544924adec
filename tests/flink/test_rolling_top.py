"""`rolling` and `top` on Flink: the same records from both engines over out-of-order, late,
tied and null input (one Flink job each), and a diagnostic at the step's line where one does
not map."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.flink._unmapped import TWO_TIMED_SOURCES, refused
from tests.flink.test_conformance import _both, _same

HERE = Path(__file__).parent
ROLLING_SINKS = ["scored", "overall", "recent"]
TOP_SINKS = ["leaders", "lowest", "sliding_leaders"]


@pytest.mark.timeout(600)
def test_rolling_gives_the_same_records_on_flink_at_parallelism_2(tmp_path: Path) -> None:
    """§4.5's example (a record out of order, a late one, ties, records exactly 10m apart),
    a late record of a key with nothing emitted yet, a null key and a key of null values; the
    RANGE frame by key and over all records after a `where`, and `rolling last 2`."""
    _assert_both_engines_agree(tmp_path, "rolling", ROLLING_SINKS)


UNMAPPED_ROLLING = (
    TWO_TIMED_SOURCES
    + """union(ta, tb) | rolling last 3 by k { n = sum(v) } | into out
ta | rolling 1m by k { firsts = first(v) } | into out
union(ta, tb) | rolling 1m by k { n = sum(v) } | into out
"""
)


def test_a_rolling_that_does_not_map_is_a_diagnostic_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused(tmp_path / "rolling.rill", UNMAPPED_ROLLING, capsys)
    assert "rolling.rill:13:17" in err
    assert "`rolling last N` counts the records of one time in arrival order" in err
    assert "rolling.rill:14:" in err and "`first` in `rolling`" in err
    assert "rolling.rill:15:" not in err  # a RANGE frame needs no order: ties share values


@pytest.mark.timeout(600)
def test_top_gives_the_same_records_on_flink_at_parallelism_2(tmp_path: Path) -> None:
    """§4.6's bids and more: ties arriving apart (ranked by arrival on both engines), null
    prices and a null key, a record out of order and late ones, in tumbling and sliding
    windows."""
    _assert_both_engines_agree(tmp_path, "top", TOP_SINKS)


def _assert_both_engines_agree(tmp_path: Path, name: str, sinks: list[str]) -> None:
    """`NAME.rill` and its folder of inputs, run by both engines at parallelism 2: every sink
    gets records, the same on both."""
    shutil.copytree(HERE / name, tmp_path / name)
    shutil.copy(HERE / f"{name}.rill", tmp_path)
    results = _both(tmp_path / f"{name}.rill", sinks, "--parallelism", "2")
    for sink, (embedded, flink) in results.items():
        assert embedded, sink
        assert _same(embedded, flink), sink


UNMAPPED_TOP = (
    TWO_TIMED_SOURCES
    + """union(ta, tb) | window tumbling 1m | top 2 by v per k | into out
ta | window session gap 1m | top 2 by v per k | into out
a | top 2 by v | into out
"""
)


def test_a_top_that_does_not_map_is_a_diagnostic_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused(tmp_path / "top.rill", UNMAPPED_TOP, capsys)
    assert "top.rill:13:" in err and "`top` ranks tied records in arrival order" in err
    assert "top.rill:14:" in err and "`top` after a session window: Flink's window Top-N" in err
    assert "top.rill:15:" in err and "`top` without a window ranks the whole input" in err
