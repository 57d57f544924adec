"""Hybrid sources (`A then B`) in the checker beyond the diagnostics golden: a hybrid never ends
when its last part does not (a `top` without a window refuses it, one over a bounded hybrid is
let be); `rillet check` looks for every part's file, at that part; the schema types the records
of every part; a mistake in a part is exit code 2 through the command, never a traceback."""

from __future__ import annotations

from pathlib import Path

from rillet.runtime import plan as ir
from tests.conftest import compile_pipeline, rillet

TOP = """source bids = file("a.jsonl") then {last}
sink out = stdout()
bids | top 3 by price | into out
"""


def codes(text: str, base_dir: Path) -> list[str]:
    return [d.code for d in compile_pipeline(text, base_dir).diagnostics]


def test_a_hybrid_ends_when_its_last_part_does(tmp_path: Path) -> None:
    assert codes(TOP.format(last='file("b.jsonl")'), tmp_path) == []
    live = 'redis_stream("redis://127.0.0.1:6379", "bids")'
    assert codes(TOP.format(last=live), tmp_path) == ["E0510"]


def test_check_looks_for_the_file_of_every_part_at_that_part(tmp_path: Path) -> None:
    (tmp_path / "p.rill").write_text(
        'source s = file("here.jsonl")\n  then file("gone.jsonl")\nsink out = stdout()\n'
        "s | into out\n"
    )
    (tmp_path / "here.jsonl").write_text("")
    done = rillet("check", "p.rill", cwd=tmp_path)
    output = done.stderr.decode()
    assert done.returncode == 2
    assert "error: input file `gone.jsonl` does not exist\n --> p.rill:2:13" in output
    assert "Traceback" not in output


def test_the_schema_types_every_part_and_the_plan_lists_the_parts(tmp_path: Path) -> None:
    text = """schema Click { ts: int, page: str }
source clicks: Click = file("a.csv", format="csv") then file("b.jsonl")
sink out = stdout()
clicks | where ts > "x" | into out
"""
    assert codes(text, tmp_path) == ["E0301"]  # `ts` is an int whichever part it comes from
    compiled = compile_pipeline(text.replace('"x"', "0"), tmp_path)
    assert compiled.plan is not None
    source = compiled.plan.nodes[0].op
    assert isinstance(source, ir.Source)
    assert [(p.connector, p.config) for p in source.parts] == [
        ("file", {"path": "a.csv", "format": "csv"}),
        ("file", {"path": "b.jsonl"}),
    ]
    assert source.schema is not None and source.schema.name == "Click"


def test_a_mistake_in_a_later_part_is_exit_code_2_at_that_part(tmp_path: Path) -> None:
    (tmp_path / "p.rill").write_text(
        'source s = file("a.jsonl") then fil("b.jsonl")\nsink out = stdout()\ns | into out\n'
    )
    done = rillet("run", "p.rill", cwd=tmp_path)
    output = done.stdout.decode() + done.stderr.decode()
    assert done.returncode == 2
    assert "p.rill:1:33" in output and "did you mean `file`?" in output
    assert "Traceback" not in output


SNIPPET = (
    'source clicks: Click = file("history/*.jsonl") then kafka("127.0.0.1:9092", "clicks", '
    'group="g")'
)
"""The hybrid source of the language's additions, verbatim."""


def test_the_language_snippet_checks_as_written(tmp_path: Path) -> None:
    text = f"""schema Click {{ ts: int, user: int, page: str }}
{SNIPPET}
sink counts = file("out/counts.jsonl")
sink rejects = file("out/rejects.jsonl")
errors into rejects
clicks | event_time ts lateness 5s | window tumbling 1m
  | aggregate by page {{ n = count() }} | late into rejects | into counts
"""
    assert codes(text, tmp_path) == []
