"""Bad input during a run (runtime/run.py with the stdlib's file connector): malformed JSON, CSV
rows of the wrong width, records failing their schema and expression errors go to the
`errors into` sink with reason, source, file, offset and the raw line or record, the run goes on,
and the counts of `RunMetrics` reconcile. Without an error sink the run stops with exit code 1
and one message naming the offset and the operator's place, never a Python traceback.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from rillet.runtime import RecordError
from tests.conftest import rillet, run_pipeline
from tests.runtime._collect import CollectSink

CLICKS = """\
{"ts": 1, "user": 1, "page": "/a", "status": 200, "latency_ms": 10.0}
{"ts": 2, "user": 2, "page": "/b", "status": 200, "latency_ms": 0.0}
{"ts": 3, "user": 3, "page": "/c", "status": 404, "latency_ms": 5.0}
{"ts": 4, "user": 4, "page": "/d", "status": 200, "latency_ms": 7.5
{"ts": 5, "user": "five", "page": "/e", "status": 200, "latency_ms": 1.0}

{"ts": 6, "user": 6, "page": "/f", "status": 200, "latency_ms": 2.0, "referrer": "x"}
[1, 2]
{"ts": 7, "user": 7, "page": "/g", "status": 500, "latency_ms": 4.0}
{"ts": 8, "user": 8, "status": 200, "latency_ms": 4.0}
{"ts": 9, "user": 9, "page": "/i", "status": 200, "latency_ms": 8.0}
"""

PIPELINE = """\
schema Click {
  ts: int
  user: int
  page: str
  status: int
  latency_ms: float
  referrer: str?
}
source clicks: Click = file("data/clicks.jsonl")
sink out = file("out/ok.jsonl")
sink rejects = file("out/rejects.jsonl")
errors into rejects

clicks
  | where status == 200
  | derive per_ms = 100 / latency_ms
  | select user, page, per_ms
  | into out
"""


def _offset(text: str, line_number: int) -> int:
    """The byte offset where 1-based line `line_number` of `text` starts."""
    return sum(len(line.encode()) for line in text.splitlines(keepends=True)[: line_number - 1])


def _lines(path: Path) -> list[dict]:
    return [msgspec.json.decode(line) for line in path.read_bytes().splitlines()]


def test_bad_records_go_to_error_sink_and_counts_reconcile(tmp_path: Path, write) -> None:
    write("data/clicks.jsonl", CLICKS)
    metrics = run_pipeline(PIPELINE, tmp_path)

    ok = _lines(tmp_path / "out/ok.jsonl")
    assert ok == [
        {"user": 1, "page": "/a", "per_ms": 10.0},
        {"user": 6, "page": "/f", "per_ms": 50.0},
        {"user": 9, "page": "/i", "per_ms": 12.5},
    ]
    rejects = _lines(tmp_path / "out/rejects.jsonl")
    lines = CLICKS.splitlines()
    by_offset = {r["offset"]: r for r in rejects}
    assert sorted(by_offset) == [_offset(CLICKS, n) for n in (2, 4, 5, 8, 10)]
    for record in rejects:
        assert record["source"] == "clicks"
        assert record["file"] == "data/clicks.jsonl"

    malformed = by_offset[_offset(CLICKS, 4)]
    assert malformed["reason"].startswith("malformed JSON")
    assert malformed["raw"] == lines[3]
    assert malformed["operator"] == "source"
    assert malformed["at"] == "test.rill:9:1"
    wrong_type = by_offset[_offset(CLICKS, 5)]
    assert wrong_type["reason"] == "schema `Click`: expected `int`, got `str` at `user`"
    assert wrong_type["raw"] == lines[4]
    not_object = by_offset[_offset(CLICKS, 8)]
    assert "schema `Click`" in not_object["reason"] and not_object["raw"] == "[1, 2]"
    missing = by_offset[_offset(CLICKS, 10)]
    assert missing["reason"] == "schema `Click`: object missing required field `page`"

    division = by_offset[_offset(CLICKS, 2)]
    assert division["reason"] == "`derive` failed: division by zero"
    assert division["operator"] == "derive"
    assert division["at"] == "test.rill:16:5"
    assert division["raw"] == {"ts": 2, "user": 2, "page": "/b", "status": 200, "latency_ms": 0.0}

    (source,) = metrics.by_kind("source")
    (stage,) = metrics.by_kind("stage")
    sinks = {m.name: m for m in metrics.by_kind("sink")}
    read = source.records_out + source.errors
    written = sinks["out"].records_in
    filtered = stage.records_in - stage.records_out - stage.errors
    errored = source.errors + stage.errors
    assert read == len([line for line in lines if line.strip()]) == 10
    assert (written, filtered, errored) == (3, 2, 5)
    assert read == written + filtered + errored
    assert stage.records_in == source.records_out
    assert sinks["rejects"].records_in == errored == len(rejects)


def test_csv_rows_of_wrong_width_and_bad_values_go_to_error_sink(tmp_path: Path, write) -> None:
    write("data/orders.csv", "id,amount,note\n1,2.5,a\n2,3.0\n3,x,c\n4,1.0,d,e\n5,4,\n")
    out, rejects = CollectSink(), CollectSink()
    metrics = run_pipeline(
        "schema Order {\n id: int\n amount: float\n note: str?\n}\n"
        'source orders: Order = file("data/orders.csv", format="csv")\n'
        'sink out = file("out.jsonl")\nsink rejects = file("rejects.jsonl")\n'
        "errors into rejects\norders | into out\n",
        tmp_path,
        sinks={"out": out, "rejects": rejects},
    )
    assert out.records == [
        {"id": 1, "amount": 2.5, "note": "a"},
        {"id": 5, "amount": 4.0, "note": None},
    ]
    assert [(r["offset"], r["reason"], r["raw"]) for r in rejects.records] == [
        (2, "csv row has 2 fields, the header has 3", "2,3.0"),
        (3, "schema `Order`: expected `float`, got `str` at `amount`", "3,x,c"),
        (4, "csv row has 4 fields, the header has 3", "4,1.0,d,e"),
    ]
    assert {(r["source"], r["file"]) for r in rejects.records} == {("orders", "data/orders.csv")}
    (source,) = metrics.by_kind("source")
    assert (source.records_out, source.errors) == (2, 3)


def test_error_sink_keeps_errors_of_every_batch(tmp_path: Path, write) -> None:
    rows = [f'{{"n": {n}}}' if n % 7 else "{oops" for n in range(1, 51)]
    write("in.jsonl", "\n".join(rows) + "\n")
    out, rejects = CollectSink(), CollectSink()
    metrics = run_pipeline(
        'set batch_size = 4\nsource s = file("in.jsonl")\nsink o = file("o.jsonl")\n'
        'sink e = file("e.jsonl")\nerrors into e\ns | derive r = 10 // (n % 5) | into o\n',
        tmp_path,
        sinks={"o": out, "e": rejects},
    )
    malformed = [n for n in range(1, 51) if n % 7 == 0]
    zero = [n for n in range(1, 51) if n % 7 and n % 5 == 0]
    assert [r["n"] for r in out.records] == [
        n for n in range(1, 51) if n not in malformed and n not in zero
    ]
    offsets = {r["offset"] for r in rejects.records}
    line_offsets = [sum(len(r) + 1 for r in rows[: n - 1]) for n in range(1, 51)]
    assert offsets == {line_offsets[n - 1] for n in malformed + zero}
    assert len(rejects.records) == len(malformed) + len(zero)
    assert sum(m.errors for m in metrics.nodes.values()) == len(rejects.records)


def test_expression_error_without_error_sink_stops_run(tmp_path: Path, write) -> None:
    write("in.jsonl", '{"a": 1}\n{"a": 0}\n{"a": 2}\n')
    with pytest.raises(ExceptionGroup) as raised:
        run_pipeline(
            'source s = file("in.jsonl")\nsink o = file("o.jsonl")\n'
            "s | derive x = 1 / a | into o\n",
            tmp_path,
        )
    (error,) = raised.value.exceptions
    assert isinstance(error, RecordError)
    assert "test.rill:3:5: `derive` failed: division by zero" in str(error)
    assert "in.jsonl offset 9" in str(error)


def test_run_without_error_sink_exits_1_naming_operator_and_offset(tmp_path: Path, write) -> None:
    write("data/in.jsonl", '{"a": 1}\n{"a": "one"}\n')
    write(
        "p.rill",
        'source s = file("data/in.jsonl")\nsink o = file("out/o.jsonl")\n\n'
        "s\n  | where a > 0\n  | derive b = a + 1\n  | into o\n",
    )
    result = rillet("run", "p.rill", cwd=tmp_path)
    assert result.returncode == 1
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    assert stderr.startswith("rillet: error: p.rill:5:5: `where` failed:")
    assert "source `s` at data/in.jsonl offset 9" in stderr
    assert '{"a":"one"}' in stderr
    assert "hint: add `errors into SINK`" in stderr


def test_run_without_error_sink_exits_1_on_malformed_line(tmp_path: Path, write) -> None:
    write("in.jsonl", '{"a": 1}\n{"a": 2}\n{"a": \n')
    write("p.rill", 'source s = file("in.jsonl")\nsink o = file("o.jsonl")\ns | into o\n')
    result = rillet("run", "p.rill", cwd=tmp_path)
    assert result.returncode == 1
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    first = stderr.splitlines()[0]
    assert first.startswith(
        "rillet: error: source `s` (p.rill:1:1): bad record at in.jsonl offset 18: malformed JSON"
    )


def test_run_with_error_sink_exits_0_and_writes_errors(tmp_path: Path, write) -> None:
    write("in.jsonl", '{"a": 1}\nnot json\n{"a": 0}\n')
    write(
        "p.rill",
        'source s = file("in.jsonl")\nsink o = file("o.jsonl")\n'
        'sink e = file("e.jsonl")\nerrors into e\ns | derive x = 1 / a | into o\n',
    )
    result = rillet("run", "p.rill", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [r["offset"] for r in _lines(tmp_path / "e.jsonl")] == [9, 18]
    assert _lines(tmp_path / "o.jsonl") == [{"a": 1, "x": 1.0}]
