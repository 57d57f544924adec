"""Every function and operator of the language, and a plugin's functions, give the same records
on Flink (Python UDFs where SQL has no built-in of the same meaning) as on the embedded engine;
an exported job carries the plugin code it needs and runs on its own, submitted with
`flink run -py job.py` from another folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rillet.dsl.cli import main
from tests.conftest import REPO
from tests.flink.test_conformance import _records, _same

HERE = Path(__file__).parent
SINKS = ["texts", "numbers", "times", "values", "plugged", "lists"]


def _functions_pipeline(folder: Path) -> Path:
    shutil.copy(HERE / "tagged.jsonl", folder)
    shutil.copytree(HERE / "plugins", folder / "plugins")
    text = (HERE / "functions.rill").read_text()
    (folder / "functions.rill").write_text(
        text.replace("../../examples/data", str(REPO / "examples/data"))
    )
    return folder / "functions.rill"


CSV_SINKS = ["table.csv", "bare.csv"]


@pytest.mark.timeout(600)
def test_functions_operators_plugin_functions_and_csv_sinks_give_the_same_output_on_flink(
    tmp_path: Path,
) -> None:
    pipeline = _functions_pipeline(tmp_path)
    out = tmp_path / "out"
    assert main(["run", "-q", "--fresh", str(pipeline)]) == 0
    embedded = {s: _records(out / f"{s}.jsonl") for s in SINKS}
    embedded_csv = {s: (out / s).read_text() for s in CSV_SINKS}
    shutil.rmtree(out)
    flink = [sys.executable, "-m", "rillet.dsl.cli", "run", "-q", "--engine", "flink"]
    subprocess.run([*flink, str(pipeline)], check=True)
    for sink in SINKS:
        assert embedded[sink], sink
        assert _same(embedded[sink], _records(out / f"{sink}.jsonl")), sink
    for sink in CSV_SINKS:  # the same bytes, but for the order of the rows
        (header, *rows), (flink_header, *flink_rows) = (
            text.splitlines(keepends=True)
            for text in (embedded_csv[sink], (out / sink).read_text())
        )
        assert (header, sorted(rows)) == (flink_header, sorted(flink_rows)), sink


def _flink_command() -> Path:
    """The `flink` command line PyFlink bundles (`flink run -t local` runs a job on a
    mini-cluster of its own, as a cluster would run it)."""
    import pyflink

    return Path(pyflink.__file__).parent / "bin" / "flink"


def _parts(folder: Path) -> list[dict]:
    """The records of a Flink file sink's folder of part files."""
    return [r for part in sorted(folder.rglob("part-*")) for r in _records(part)]


def _exported(pipeline: Path, sinks: list[str], job: Path) -> dict[str, list[dict]]:
    """Run `pipeline` on the embedded engine, export it to `job` and delete the plugin files
    beside it (the job must not need them); the embedded engine's records by sink."""
    project = pipeline.parent
    assert main(["run", "-q", "--fresh", str(pipeline)]) == 0
    embedded = {s: _records(project / "out" / f"{s}.jsonl") for s in sinks}
    shutil.rmtree(project / "out")
    assert main(["export", "--engine", "flink", str(pipeline), "-o", str(job)]) == 0
    shutil.rmtree(project / "plugins")
    return embedded


@pytest.mark.timeout(600)
def test_an_exported_job_carries_its_plugin_and_runs_with_flink_run_from_another_folder(
    tmp_path: Path,
) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    job = elsewhere / "job.py"
    embedded = _exported(_functions_pipeline(project), SINKS, job)
    python = ["-pyclientexec", sys.executable, "-pyexec", sys.executable]
    submit = [str(_flink_command()), "run", "-t", "local", *python, "-py", str(job)]
    subprocess.run(submit, cwd=elsewhere, check=True)
    for sink in SINKS:
        assert _same(embedded[sink], _parts(project / "out" / f"{sink}.jsonl")), sink
