"""Plugin operators on Flink: a function of one record that declares its records' fields by its
return annotation runs as a Python table function and gives the records the embedded engine
gives (none, one or several per record, `async` too, a window after it on the event time that
flows through); an exported job carries the plugin file; what does not map is `E1401`, each for
its own reason."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rillet.dsl.cli import main
from rillet.dsl.pipeline import compile_file
from rillet.flink.pyops import OperatorCall, OperatorCode
from rillet.flink.translate import translate
from tests.conftest import REPO, compile_pipeline
from tests.flink._unmapped import refused
from tests.flink.test_conformance import _both, _same
from tests.flink.test_functions import _exported, _parts

HERE = Path(__file__).parent
SINKS = ["visits", "visit_windows", "deep"]


def _operators_pipeline(folder: Path) -> Path:
    shutil.copytree(HERE / "plugins", folder / "plugins")
    text = (HERE / "operators.rill").read_text()
    (folder / "operators.rill").write_text(
        text.replace("../../examples/data", str(REPO / "examples/data"))
    )
    return folder / "operators.rill"


@pytest.mark.timeout(600)
def test_declared_plugin_operators_give_the_same_records_on_flink_at_parallelism_2(
    tmp_path: Path,
) -> None:
    """`visit` returns None, a TypedDict or a list of one and a dict, with a keyword argument,
    and a tumbling window follows it on the clicks' event time (late clicks dropped alike);
    `segments` is `async` and returns a list of Structs, empty for the root page."""
    results = _both(_operators_pipeline(tmp_path), SINKS, "--parallelism", "2")
    for sink, (embedded, flink) in results.items():
        assert embedded, sink
        assert _same(embedded, flink), sink


@pytest.mark.timeout(600)
def test_an_exported_job_carries_its_plugin_operators_and_runs_from_another_folder(
    tmp_path: Path,
) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    job = elsewhere / "job.py"
    embedded = _exported(_operators_pipeline(project), SINKS, job)
    assert "ONE_RECORD_BUNDLES = True" in job.read_text()
    subprocess.run([sys.executable, str(job)], cwd=elsewhere, check=True)
    for sink in SINKS:
        assert _same(embedded[sink], _parts(project / "out" / f"{sink}.jsonl")), sink


def test_explain_shows_each_plugin_operator_as_a_table_function(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explain", "--engine", "flink", str(_operators_pipeline(tmp_path))]) == 0
    out = capsys.readouterr().out
    how = "`visit` as a Python table function in LATERAL TABLE (a row per record it returns"
    assert f"node 2 pluginoperator: {how})" in out
    assert f"node 4 pluginoperator: {how}, event time kept)" in out
    assert "`segments` as a Python table function" in out
    compiled = compile_file(str(tmp_path / "operators.rill"))
    assert compiled.plan is not None
    job = translate(compiled.plan)
    timed = [s for s in job.statements if isinstance(s, str) and "L.__rt AS __rt" in s]
    assert len(timed) == 1 and "LATERAL TABLE(rillet_op_visits_visit_" in timed[0]
    assert sorted(u.attr for u in job.udtfs.values()) == ["segments", "visit", "visit"]
    assert {u.file for u in job.udtfs.values()} == {"plugins/visits.py"}
    assert job.one_record_bundles  # the window after `visit` on event time
    assert job.notes == [
        "`visit` runs before a step on event time: Python runs one record per bundle, so no"
        " record overtakes a watermark (a round trip per record)"
    ]
    text = (tmp_path / "operators.rill").read_text().split("stream timed")[0]
    text += "clicks | event_time ts | visit() | into visits\n"
    untimed = compile_pipeline(text, tmp_path)
    assert untimed.plan is not None
    assert not translate(untimed.plan).one_record_bundles  # nothing reads event time after


UNMAPPED = """use "plugins/visits.py"

schema T {
  ts: int
  page: str
}

source a: T = file("a.jsonl")
sink out = file("out.jsonl")

a | undeclared() | into out
a | in_batches() | into out
a | running() | into out
a | nested() | into out
"""


def test_undeclared_batch_and_stateful_operators_do_not_map_each_for_its_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(HERE / "plugins", tmp_path / "plugins")
    err = refused(tmp_path / "ops.rill", UNMAPPED, capsys)
    assert "ops.rill:11:5" in err and "returns records whose fields are not declared" in err
    assert "annotate its return as `-> Out | None` or `-> list[Out]`" in err
    assert "ops.rill:12:5" in err and "is a function of a batch (`batch=True`)" in err
    assert "ops.rill:13:5" in err and "the stateful plugin operator `running`" in err
    assert "ops.rill:14:5" in err and "declares `extra` of a type Flink cannot hold" in err


def _call(source: str, is_async: bool = False) -> OperatorCall:
    """The operator `f` defined by `source`, as a worker runs it: from the plugin file's text."""
    code = OperatorCode("unused", "f", "f.py", source)
    return OperatorCall(code, ("ts", "n"), {"k": 2}, ("ts", "n"), "ts", is_async, "operator `f`")


STRUCTS = """
import msgspec

class Out(msgspec.Struct):
    ts: int
    n: int

def f(record, *, k):
    if record["n"] < 0:
        return None
    return [Out(record["ts"], record["n"] * k), {"ts": record["ts"]}]
"""


def test_a_worker_gives_a_row_per_returned_record_and_none_for_none() -> None:
    call = _call(STRUCTS)
    assert call.rows((5, 7)) == [(5, 14), (5, None)]
    assert call.rows((5, -1)) == []
    waited = _call("async def f(record, *, k):\n    return {**record, 'n': k}\n", is_async=True)
    assert waited.rows((5, 7)) == [(5, 2)]


def test_a_record_whose_event_time_the_operator_changed_fails_the_flink_job() -> None:
    moved = _call("def f(record, *, k):\n    return {**record, 'ts': record['ts'] + k}\n")
    with pytest.raises(ValueError, match="changed the event time `ts` of a record"):
        moved.rows((5, 7))
    text = _call("def f(record, *, k):\n    return 'text'\n")
    with pytest.raises(TypeError, match="returned str, not a record, a list or None"):
        text.rows((5, 7))
