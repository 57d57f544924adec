"""The same pipeline files run by the embedded engine and by Flink (a real local mini-cluster,
`rillet run --engine flink`) give the same records, compared as multisets. Floats are equal
within a relative 1e-9: `round` is rillet's own (a Python UDF), and what remains is the order in
which Flink adds up a sum or a mean, across parallel tasks too (docs/flink.md). One Flink job
(and one JVM start) per file and parallelism."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from rillet.dsl.cli import main
from tests.conftest import REPO

HERE = Path(__file__).parent
FLOAT_TOLERANCE = 1e-9
"""Relative: a sum's or a mean's last bits follow the order of its additions."""


def _windows_example(folder: Path) -> Path:
    """examples/windows.rill, unchanged, in `folder` with the example's data."""
    shutil.copytree(REPO / "examples" / "data", folder / "data")
    shutil.copy(REPO / "examples" / "windows.rill", folder)
    return folder / "windows.rill"


def _copied(folder: Path, name: str) -> Path:
    """tests/flink/NAME in `folder`, reading the example's data where it is."""
    text = (HERE / name).read_text()
    shutil.copy(HERE / "tagged.jsonl", folder)
    shutil.copy(HERE / "boundary.jsonl", folder)
    shutil.copytree(HERE / "parts", folder / "parts")
    (folder / name).write_text(text.replace("../../examples/data", str(REPO / "examples/data")))
    return folder / name


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _rounded(record: dict) -> tuple:
    """A record's key for matching: its non-float values (floats are compared apart)."""
    return tuple(
        sorted(
            (k, json.dumps(v) if isinstance(v, list | dict) else v)
            for k, v in record.items()
            if not isinstance(v, float)
        )
    )


def _same(embedded: list[dict], flink: list[dict]) -> bool:
    if Counter(map(_rounded, embedded)) != Counter(map(_rounded, flink)):
        return False
    left, right = sorted(embedded, key=repr_key), sorted(flink, key=repr_key)
    return all(
        a.keys() == b.keys()
        and all(
            math.isclose(a[k], b[k], rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE)
            if isinstance(a[k], float) or isinstance(b[k], float)
            else a[k] == b[k]
            for k in a
        )
        for a, b in zip(left, right)
    )


def repr_key(record: dict) -> str:
    return json.dumps(_rounded(record), default=str)


def _both(
    pipeline: Path, sinks: list[str], *flink_args: str
) -> dict[str, tuple[list[dict], list[dict]]]:
    out = pipeline.parent / "out"
    assert main(["run", "-q", "--fresh", str(pipeline)]) == 0
    embedded = {s: _records(out / f"{s}.jsonl") for s in sinks}
    shutil.rmtree(out)
    # its own process, as a user runs it: PyFlink's JVM gateway lives as long as the process
    flink = [sys.executable, "-m", "rillet.dsl.cli", "run", "-q", "--engine", "flink"]
    assert subprocess.run([*flink, *flink_args, str(pipeline)], check=False).returncode == 0
    return {s: (embedded[s], _records(out / f"{s}.jsonl")) for s in sinks}


@pytest.mark.timeout(600)
def test_windows_example_gives_the_same_records_on_flink_at_parallelism_2(tmp_path: Path) -> None:
    """Its `dedupe` follows an interval join: of an order's pairs (all at the order's time)
    both engines keep the one with the earliest click. Its `traffic` window gets clicks rillet
    calls late, which Flink drops too only if every window task sees the watermark of the one
    task that reads the file (docs/flink.md, "Event time at any parallelism")."""
    results = _both(_windows_example(tmp_path), ["traffic", "purchases"], "--parallelism", "2")
    for sink, (embedded, flink) in results.items():
        assert embedded, sink
        assert _same(embedded, flink), sink


@pytest.mark.timeout(600)
def test_each_file_source_gets_its_watermark_in_one_task_at_any_parallelism(
    tmp_path: Path,
) -> None:
    """Why the test above holds in every run, not by luck: a file is one split, so at
    parallelism 2 one source task reads it; the watermark is assigned in one task after it
    (never in the idle source task, which would hold every window back until it finishes),
    and the windows, the join and the `dedupe` run at 2."""
    job = tmp_path / "job.py"
    assert (
        main(["export", "--engine", "flink", str(_windows_example(tmp_path)), "-o", str(job)]) == 0
    )
    plan = [sys.executable, "-m", "tests.flink._plan", str(job), "2"]
    lines = subprocess.run(plan, cwd=REPO, capture_output=True, text=True, check=True).stdout
    nodes = [json.loads(line) for line in lines.splitlines() if line.startswith("{")]
    assigners = [n for n in nodes if "WatermarkAssigner(" in n["contents"]]
    assert len(assigners) == 3  # clicks for the window and for the join, orders
    assert all(n["parallelism"] == 1 for n in assigners)
    for step in ("WindowAggregate(", "IntervalJoin(", "KEYED PROCESS"):
        assert [n["parallelism"] for n in nodes if step in n["contents"]] == [2], step


DEDUPE_SINKS = ["unique", "spaced", "by_two", "first_visit"]
IN_ORDER_SINKS = ["arrivals", "sliding_arrivals", "session_arrivals", "bridged"]


def _dedupe_copy(folder: Path) -> Path:
    shutil.copytree(HERE / "dedupe", folder / "dedupe")
    shutil.copytree(HERE / "plugins", folder / "plugins")
    shutil.copy(HERE / "dedupe.rill", folder)
    return folder / "dedupe.rill"


@pytest.mark.timeout(600)
def test_dedupe_and_arrival_order_aggregates_give_the_same_records_on_flink_at_parallelism_2(
    tmp_path: Path,
) -> None:
    """The docs' snippet and §4.9's rules over in-order and out-of-order files with ties and
    null keys, two keys after `where`/`derive`, and a `dedupe` after a `join … within`; `first`,
    `last`, `collect`, `max_by`, `min_by` and a plugin's aggregate (Python aggregate functions)
    in tumbling, sliding and session windows over records out of time order."""
    for sink, (embedded, flink) in _both(
        _dedupe_copy(tmp_path), DEDUPE_SINKS + IN_ORDER_SINKS, "--parallelism", "2"
    ).items():
        assert embedded, sink
        assert _same(embedded, flink), sink


@pytest.mark.timeout(600)
def test_an_exported_dedupe_job_runs_on_its_own(tmp_path: Path) -> None:
    """What `flink run -py job.py` runs: the script alone, its DataStream part pasted in, in a
    process of its own; each sink a folder of part files at the pipeline's path."""
    pipeline = _dedupe_copy(tmp_path)
    assert main(["run", "-q", "--fresh", str(pipeline)]) == 0
    sinks = DEDUPE_SINKS + IN_ORDER_SINKS
    embedded = {s: _records(tmp_path / "out" / f"{s}.jsonl") for s in sinks}
    shutil.rmtree(tmp_path / "out")
    job = tmp_path / "job.py"
    assert main(["export", "--engine", "flink", str(pipeline), "-o", str(job)]) == 0
    text = job.read_text()
    assert not re.search(r"^(from|import) rillet", text, re.MULTILINE)  # standalone
    assert re.search(r"^UDFS = \[.*\n\]$", text, re.MULTILINE)  # no Python UDFs
    assert "class RilletDedupe(KeyedProcessFunction)" in text
    subprocess.run([sys.executable, "-I", str(job)], cwd=tmp_path, check=True)
    for sink in sinks:
        parts = sorted((tmp_path / "out" / f"{sink}.jsonl").rglob("part-*"))
        flink = [r for part in parts for r in _records(part)]
        assert _same(embedded[sink], flink), sink


@pytest.mark.timeout(600)
def test_sliding_session_union_explode_and_expressions_give_the_same_records_on_flink(
    tmp_path: Path,
) -> None:
    results = _both(
        _copied(tmp_path, "windows_more.rill"),
        [
            "sliding",
            "sessions",
            "flagged",
            "matched",
            "tags",
            "tag_counts",
            "orders_left",
            "order_pages",
            "at_the_edge",
        ],
    )
    for sink, (embedded, flink) in results.items():
        assert embedded, sink
        assert _same(embedded, flink), sink


W2_EVENTS = 20_000  # a minute of the benchmark's clicks: about 200 windows


@pytest.mark.timeout(600)
def test_generated_w2_gives_the_same_windows_on_flink_at_parallelism_2(tmp_path: Path) -> None:
    """The benchmark's W2 over `bench/gen.py`'s events (out of order, some late), as
    `bench/` runs it, on two Flink task slots."""
    shutil.copy(REPO / "bench" / "w2.rill", tmp_path)
    gen = [sys.executable, str(REPO / "bench" / "gen.py"), str(W2_EVENTS)]
    subprocess.run([*gen, str(tmp_path / "data" / "clicks.jsonl")], check=True)
    ((embedded, flink),) = _both(tmp_path / "w2.rill", ["w2"], "--parallelism", "2").values()
    assert len(embedded) > 100
    assert _same(embedded, flink)


@pytest.mark.timeout(600)
def test_aggregate_without_window_and_left_join_without_within_give_the_same_on_flink(
    tmp_path: Path,
) -> None:
    sinks = ["per_page", "overall", "none", "slow_orders"]
    results = _both(_copied(tmp_path, "totals.rill"), sinks)
    for sink, (embedded, flink) in results.items():
        assert bool(embedded) == (sink != "none"), sink
        assert _same(embedded, flink), sink
