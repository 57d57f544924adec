"""The fields a sink's `key` and `partition_by` name are checked against the records written
into it: a misspelt one is an error at the argument (E0202), never a run stopped at its first
record."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from rillet.runtime import plan as ir
from tests.conftest import compile_pipeline

HEAD = """schema Click {
  ts: int
  user: int
  page: str
}
source clicks: Click = file("clicks.jsonl")
"""
WINDOWED = "clicks | event_time ts | window tumbling 1s | aggregate by page { n = count() }"


@pytest.mark.parametrize(
    "sink",
    [
        'sqlite("out.db", "w", key=["page", "window_start"])',
        'sqlite("out.db", "w", key="page")',
        'postgres("postgresql://127.0.0.1:1/db", "w", key=["page", "window_start"])',
        'file("out/w.jsonl", partition_by=["page"])',
        'parquet("out/w", partition_by=["page"])',
        'delta("out/w", key=["window_start", "page"], partition_by=["page"])',
    ],
)
def test_key_and_partition_fields_of_the_records_check(sink: str, tmp_path: Path) -> None:
    compiled = compile_pipeline(f"{HEAD}sink out = {sink}\n{WINDOWED} | into out\n", tmp_path)
    assert compiled.ok, [d.message for d in compiled.diagnostics]


@pytest.mark.parametrize(
    ("sink", "column"),
    [
        ('sqlite("out.db", "w", key=["page", "window_strat"])', 47),
        ('sqlite("out.db", "w", key="pgae")', 38),
        ('file("out/w.jsonl", partition_by=["dt"])', 46),
        ('delta("out/w", key=["page", "window_end"], partition_by=["dt"])', 69),
    ],
)
def test_a_key_field_the_records_lack_is_an_error_at_its_name(
    sink: str, column: int, tmp_path: Path
) -> None:
    compiled = compile_pipeline(f"{HEAD}sink out = {sink}\n{WINDOWED} | into out\n", tmp_path)
    (problem,) = [d for d in compiled.diagnostics if d.code == "E0202"]
    assert "not a field of the records written into it on line 8" in problem.message
    assert problem.span is not None and (problem.span.line, problem.span.col) == (7, column)
    assert problem.hints == (
        "fields (the `aggregate` on line 8): page, window_start, window_end, n",
    )
    assert not compiled.ok


def test_an_open_record_type_is_not_checked(tmp_path: Path) -> None:
    text = 'source raw = file("in.jsonl")\nsink out = sqlite("o.db", "t", key=["a", "b"])\n'
    assert compile_pipeline(text + "raw | into out\n", tmp_path).ok


def test_a_key_naming_one_field_twice_is_refused(tmp_path: Path) -> None:
    text = HEAD + 'sink out = sqlite("o.db", "t", key=["user", "user"])\nclicks | into out\n'
    (problem,) = compile_pipeline(text, tmp_path).diagnostics
    assert problem.code == "E0406" and "names `user` twice" in (problem.label or "")


def test_a_table_sink_is_planned_with_its_records_type(tmp_path: Path) -> None:
    text = (
        f'{HEAD}sink out = parquet("out/w")\nsink plain = file("o.jsonl")\n'
        'sink mixed = delta("d")\n'
        f"{WINDOWED} | into out\n{WINDOWED} | into plain\n"
        "clicks | into mixed\nclicks | select ts | into mixed\n"
    )
    compiled = compile_pipeline(text, tmp_path)
    assert compiled.plan is not None
    sinks = {n.op.name: n.op for n in compiled.plan.nodes if isinstance(n.op, ir.Sink)}
    schema = sinks["out"].schema
    assert isinstance(schema, ir.SchemaSpec)
    assert [(f.name, f.type.name) for f in schema.fields] == [
        ("page", "str"),
        ("window_start", "int"),
        ("window_end", "int"),
        ("n", "int"),
    ]
    assert sinks["plain"].schema is msgspec.UNSET  # a sink that does not ask
    assert sinks["mixed"].schema is msgspec.UNSET  # two flows of two types
