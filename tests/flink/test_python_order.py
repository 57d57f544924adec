"""Python before a step on event time on Flink: PyFlink's Python worker takes records in bundles
and holds a watermark back until its bundle is done, so records behind the watermark would
reach the window before it and be counted where rillet calls them late. A job with Python
before such a step runs one record per bundle (`flink/pythonorder.py`) and gives rillet's
records; a job with Python only after its windows keeps Flink's bundles."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rillet.flink.translate import FlinkJob, translate
from tests.conftest import REPO, compile_pipeline
from tests.flink.test_conformance import _both, _same

HERE = Path(__file__).parent


def _pipeline(folder: Path) -> Path:
    shutil.copytree(HERE / "plugins", folder / "plugins")
    text = (HERE / "python_order.rill").read_text()
    pipeline = folder / "python_order.rill"
    pipeline.write_text(text.replace("../../examples/data", str(REPO / "examples/data")))
    return pipeline


@pytest.mark.timeout(600)
def test_a_plugin_function_before_a_window_gives_rillets_windows_on_flink(
    tmp_path: Path,
) -> None:
    """With Flink's default bundles this window differed from rillet's in 2 rows, 2 of 2 runs."""
    results = _both(_pipeline(tmp_path), ["sections"], "--parallelism", "2")
    embedded, flink = results["sections"]
    assert embedded
    assert _same(embedded, flink)


def _job(tmp_path: Path, flow: str) -> tuple[FlinkJob, int]:
    """The job of the test pipeline with `flow` for its flow; the flow's line."""
    head = (HERE / "python_order.rill").read_text().split("clicks\n")[0]
    shutil.copytree(HERE / "plugins", tmp_path / "plugins", dirs_exist_ok=True)
    compiled = compile_pipeline(head + flow, tmp_path)
    assert compiled.plan is not None
    return translate(compiled.plan), head.count("\n") + 1


@pytest.mark.parametrize(
    ("flow", "why"),
    [
        (
            "clicks | event_time ts | derive s = section_of(page) | window tumbling 10s"
            " | aggregate by s { n = count() } | into sections\n",
            "Python in the `derive`",
        ),
        (
            "clicks | event_time ts | where round(latency_ms) > 100 | window tumbling 10s"
            " | aggregate { n = count() } | into sections\n",
            "Python in the `where`",
        ),
        (
            "clicks | event_time ts | window tumbling 10s"
            " | aggregate by user { bands = sum(price_band(latency_ms)) } | into sections\n",
            "Python in the `aggregate`",
        ),
    ],
)
def test_python_before_or_in_a_step_on_event_time_runs_one_record_per_bundle(
    tmp_path: Path, flow: str, why: str
) -> None:
    job, line = _job(tmp_path, flow)
    assert job.one_record_bundles
    assert job.notes == [
        f"{why} at line {line} runs before a step on event time: Python runs one record per"
        " bundle, so no record overtakes a watermark (a round trip per record)"
    ]


def test_python_after_the_windows_keeps_flinks_bundles(tmp_path: Path) -> None:
    flow = (
        "clicks | event_time ts | window tumbling 10s | aggregate by page { n = count() }"
        " | derive s = section_of(page) | into sections\n"
    )
    job, _ = _job(tmp_path, flow)
    assert not job.one_record_bundles
    assert job.notes == []
