"""`--engine flink` before anything runs: what does not map is a diagnostic at its line, and
`explain` says how each step maps. No JVM is started here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rillet.dsl.cli import main
from rillet.dsl.pipeline import compile_file
from rillet.flink.translate import translate
from tests.conftest import REPO
from tests.dsl.test_goldens import _check_golden
from tests.flink._unmapped import TWO_TIMED_SOURCES, refused

HERE = Path(__file__).parent


UNSHARED_ORDERS = """schema T {
  ts: int
  k: str
  user: int
}

source a: T = file("a.jsonl")
source b: T = file("b.jsonl")
sink out = file("out.jsonl")
stream ta = a | event_time ts
stream tb = b | event_time ts

union(ta, tb) | dedupe by k within 1s | into out
a | dedupe by k within 1s | into out
ta | join tb on user within 1s | drop tb_ts | dedupe by k within 1s | into out
"""


def test_a_dedupe_without_an_order_both_engines_share_does_not_map_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline = tmp_path / "orders.rill"
    pipeline.write_text(UNSHARED_ORDERS)
    assert main(["check", "--engine", "flink", str(pipeline)]) == 2
    err = capsys.readouterr().err
    assert "orders.rill:13:17" in err
    assert "from `union` (line 13) arrive in an order Flink does not reproduce" in err
    assert "orders.rill:14:" in err and "`dedupe` on processing time" in err
    assert "orders.rill:15:" in err and "by `tb_ts`, which must reach it unchanged" in err


UNSHARED_AGGREGATE_ORDERS = (
    TWO_TIMED_SOURCES
    + """union(ta, tb) | window tumbling 1s | aggregate by k { f = first(v) } | into out
ta | join tb on k within 1s | window tumbling 1s | aggregate { c = collect(v) } | into out
a | aggregate by k { l = last(v) } | into out
ta | window tumbling 1s | aggregate by k { m = max_by(k, v), n = count() } | into out
"""
)


def test_an_aggregate_of_arrival_order_maps_only_over_one_file_in_a_window(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`first`, `last`, `collect`, `max_by`, `min_by` and plugin aggregates follow arrival
    order (a Python aggregate function on Flink): straight from one file, in a window."""
    pipeline = tmp_path / "aggs.rill"
    err = refused(pipeline, UNSHARED_AGGREGATE_ORDERS, capsys)
    assert "aggs.rill:13:" in err and "`first` sees a group's records in arrival order" in err
    assert "from `union` (line 13) arrive in an order Flink does not reproduce" in err
    assert "aggs.rill:14:" in err and "from `join` (line 14)" in err
    assert "aggs.rill:15:" in err and "which Flink runs in streaming mode only" in err
    assert "aggs.rill:16:" not in err
    assert main(["explain", "--engine", "flink", str(pipeline)]) == 2


def test_the_windows_example_maps_whole_with_its_dedupe(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["explain", "--engine", "flink", str(REPO / "examples" / "windows.rill")]) == 0
    out = capsys.readouterr().out
    assert "dedupe: keyed process function (DataStream API)" in out
    assert "the one with the least `timed_ts` kept" in out


def test_explain_shows_how_each_step_maps(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--engine", "flink", str(HERE / "windows_more.rill")]) == 0
    out = capsys.readouterr().out
    assert "SLIDING window table function" in out and "SESSION window table function" in out
    assert "UNION ALL" in out


def test_export_writes_a_standalone_job(tmp_path: Path) -> None:
    job = tmp_path / "job.py"
    assert (
        main(["export", "--engine", "flink", str(HERE / "windows_more.rill"), "-o", str(job)]) == 0
    )
    text = job.read_text()
    compile(text, str(job), "exec")
    assert "HOP(TABLE" in text and "flink run -py job.py" in text


def test_kafka_tables_match_the_golden_file(
    request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Kafka connector tables are generated, never run here (no jar can be fetched): the
    exact SQL and options are pinned, with `explain` naming the jar for sources and sinks."""
    pipeline = HERE / "kafka.rill"
    assert main(["explain", "--engine", "flink", str(pipeline)]) == 0
    explained = capsys.readouterr().out
    compiled = compile_file(str(pipeline), {})
    assert compiled.plan is not None
    job = translate(compiled.plan)
    generated = [*job.statements, *(f"{t.name}: {t.options!r}\n  {q}" for t, q in job.sinks)]
    actual = explained + "\n" + "\n\n".join(generated) + "\n"
    _check_golden(request, HERE / "golden" / "kafka.txt", actual)
    assert explained.count("flink-sql-connector-kafka") == 4  # two sources, two sinks


HIDE_PYFLINK = """
import sys
from importlib.abc import MetaPathFinder
from rillet.dsl.cli import main


class WithoutPyFlink(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "pyflink":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, WithoutPyFlink())
sys.exit(main(sys.argv[1:]))
"""


def test_run_without_pyflink_is_a_diagnostic_naming_the_extra() -> None:
    """An interpreter where `import pyflink` fails, as without `rillet[flink]`."""
    pipeline = HERE / "windows_more.rill"
    command = [sys.executable, "-c", HIDE_PYFLINK, "run", "--engine", "flink", str(pipeline)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert (
        "needs the Python package `pyflink`" in done.stderr and "windows_more.rill:" in done.stderr
    )
    assert "pip install 'rillet[flink]'" in done.stderr and "Traceback" not in done.stderr


def test_a_pattern_java_reads_otherwise_does_not_map(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline = tmp_path / "ungreedy.rill"
    pipeline.write_text(
        'schema Line {\n  text: str\n}\n\nsource lines: Line = file("lines.jsonl")\n'
        'sink out = file("out.jsonl")\n\nlines | where text =~ "(?U)a+b" | into out\n'
    )
    (tmp_path / "lines.jsonl").write_text('{"text": "ab"}\n')
    assert main(["check", "--engine", "flink", str(pipeline)]) == 2
    err = capsys.readouterr().err
    assert "Java reads them otherwise" in err and "ungreedy.rill:8:" in err


def test_event_time_with_an_aggregate_without_window_does_not_map(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """That job runs in Flink's batch mode, which keeps late records rillet drops."""
    pipeline = tmp_path / "mixed.rill"
    pipeline.write_text(
        'schema Click {\n  ts: int\n  page: str\n}\n\nsource clicks: Click = file("c.jsonl")\n'
        'sink out = file("out.jsonl")\nsink all = file("all.jsonl")\n\n'
        "clicks | event_time ts lateness 1s | window tumbling 5s | aggregate { n = count() }"
        " | into out\nclicks | aggregate by page { n = count() } | into all\n"
    )
    (tmp_path / "c.jsonl").write_text('{"ts": 1, "page": "/"}\n')
    assert main(["check", "--engine", "flink", str(pipeline)]) == 2
    err = capsys.readouterr().err
    assert "batch mode, where late records are not dropped" in err and "mixed.rill:10:" in err


def test_a_glob_flink_would_read_otherwise_does_not_map(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Flink skips names starting with `_`, which rillet's glob reads: no silent difference."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "_a.jsonl").write_text('{"ts": 1}\n')
    pipeline = tmp_path / "globs.rill"
    pipeline.write_text(
        'schema T {\n  ts: int\n}\n\nsource a: T = file("in/*.jsonl")\n'
        'source b: T = file("*/x.jsonl")\nsink out = file("out.jsonl")\n\n'
        "union(a, b) | into out\n"
    )
    assert main(["check", "--engine", "flink", str(pipeline)]) == 2
    err = capsys.readouterr().err
    assert "matching `_a.jsonl`: Flink skips names with `_`" in err and "globs.rill:5:" in err
    assert "in a folder name" in err and "globs.rill:6:" in err
