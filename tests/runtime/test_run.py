"""Running a physical graph (runtime/run.py): nodes with several inputs end only after all of
them did, a sink can take data and error records at once, connectors are closed after a
success or a failure, and `execute` counts into the `RunMetrics` it is given.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rillet.runtime import RecordError, RunMetrics
from tests.conftest import run_pipeline
from tests.runtime._collect import CollectSink


def test_union_of_two_sources_delivers_all_and_ends(tmp_path: Path, write) -> None:
    write("a.jsonl", "".join(f'{{"s": "a", "n": {n}}}\n' for n in range(25)))
    write("b.jsonl", "".join(f'{{"s": "b", "n": {n}}}\n' for n in range(40)))
    out = CollectSink()
    metrics = run_pipeline(
        'set batch_size = 7\nsource a = file("a.jsonl")\nsource b = file("b.jsonl")\n'
        'sink o = file("o.jsonl")\nunion(a, b) | where n % 2 == 0 | into o\n',
        tmp_path,
        sinks={"o": out},
    )
    for name, count in (("a", 25), ("b", 40)):
        assert [r["n"] for r in out.records if r["s"] == name] == list(range(0, count, 2))
    (union,) = metrics.by_kind("union")
    assert (union.records_in, union.records_out) == (65, 65)


def test_sink_fed_by_several_flows_and_errors_gets_all_and_ends(tmp_path: Path, write) -> None:
    write("a.jsonl", '{"a": 1}\n{"a": 0}\n')
    write("b.jsonl", '{"b": 1}\nbroken\n')
    both = CollectSink()
    metrics = run_pipeline(
        'source a = file("a.jsonl")\nsource b = file("b.jsonl")\nsink both = file("o.jsonl")\n'
        "errors into both\na | derive x = 1 // a | into both\nb | into both\n",
        tmp_path,
        sinks={"both": both},
    )
    data = [r for r in both.records if "reason" not in r]
    errors = [r for r in both.records if "reason" in r]
    assert sorted(data, key=str) == [{"a": 1, "x": 1}, {"b": 1}]
    assert sorted((e["source"], e["offset"]) for e in errors) == [("a", 9), ("b", 9)]
    assert sum(m.errors for m in metrics.nodes.values()) == 2


def test_execute_counts_into_given_metrics(tmp_path: Path, write) -> None:
    write("in.jsonl", '{"a": 1}\n{"a": 2}\n')
    given = RunMetrics()
    returned = run_pipeline(
        'source s = file("in.jsonl")\nsink o = file("o.jsonl")\ns | where a > 1 | into o\n',
        tmp_path,
        sinks={"o": CollectSink()},
        metrics=given,
    )
    assert returned is given
    assert [(m.kind, m.records_in, m.records_out) for m in given.nodes.values()] == [
        ("source", 0, 2),
        ("stage", 2, 1),
        ("sink", 1, 0),
    ]
    assert all(ch.queued_records == 0 for ch in given.channels.values())


def test_connectors_are_opened_and_closed_also_when_run_fails(tmp_path: Path, write) -> None:
    write("in.jsonl", '{"a": 1}\n{"a": 0}\n')
    out = CollectSink()
    with pytest.raises(ExceptionGroup) as raised:
        run_pipeline(
            'source s = file("in.jsonl")\nsink o = file("o.jsonl")\n'
            "s | derive x = 1 % a | into o\n",
            tmp_path,
            sinks={"o": out},
        )
    assert raised.group_contains(RecordError)
    assert out.opened and out.closed
