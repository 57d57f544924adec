"""`rillet lineage` on a real run with many checkpoints: for output positions of a stateless
and of a windowed path, the input ranges it reports, re-read from the input file, hold every
record that produced that output; and the pipeline's identity is the one that ran."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import rillet

EVENTS = 60_000
PIPELINE = """\
set checkpoint_interval = 5ms
set batch_size = 100
source s = file("in.jsonl")
sink   plain   = file("plain.jsonl")
sink   windows = file("windows.jsonl")
sink   table   = delta("table")
s | where n % 3 == 0 | into plain
stream counted = s
  | event_time ts lateness 1s
  | window tumbling 30s
  | aggregate by user { c = count(), lo = min(n), hi = max(n) }
counted | into windows
counted | into table
"""


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lineage")
    with (folder / "in.jsonl").open("w") as f:
        for n in range(EVENTS):  # a little disorder, well within the lateness
            f.write(json.dumps({"ts": n * 10 + (n % 5) * 7, "user": n % 7, "n": n}) + "\n")
    (folder / "p.rill").write_text(PIPELINE)
    done = rillet("run", "-q", "p.rill", cwd=folder)
    assert done.returncode == 0, done.stderr.decode()
    return folder


def offsets(path: Path) -> dict[int, int]:
    """Each input record's `n` -> the byte it starts at."""
    found, at = {}, 0
    for line in path.read_bytes().splitlines(keepends=True):
        found[json.loads(line)["n"]] = at
        at += len(line)
    return found


def lines(path: Path) -> list[tuple[int, dict]]:
    """Each output line's first byte and record."""
    found, at = [], 0
    for line in path.read_bytes().splitlines(keepends=True):
        found.append((at, json.loads(line)))
        at += len(line)
    return found


def checkpoints(folder: Path) -> list[dict]:
    done = rillet("lineage", "p.rill", "--format", "json", cwd=folder)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def written_by(listing: list[dict], sink: str, byte: int) -> dict:
    """The lineage of the checkpoint that wrote `byte` of `sink`."""
    for checkpoint in listing:
        written = checkpoint["outputs"][sink]["written"]
        start = 0 if written["from"] is None else written["from"]["length"]
        if start <= byte < written["to"]["length"]:
            return checkpoint["outputs"][sink]
    raise AssertionError(f"no checkpoint wrote byte {byte} of {sink}")


def input_range(output: dict) -> range:
    span = output["inputs"]["s"]
    start = 0 if span["from"] is None else span["from"]["current"][1]
    return range(start, span["to"]["current"][1])


def test_a_stateless_output_came_from_its_checkpoints_own_input(ran: Path) -> None:
    listing, where = checkpoints(ran), offsets(ran / "in.jsonl")
    assert len(listing) >= 3, "the run should have taken several checkpoints"
    for byte, record in lines(ran / "plain.jsonl"):
        output = written_by(listing, "plain", byte)
        assert where[record["n"]] in input_range(output)
    narrow = [c["outputs"]["plain"] for c in listing if c["outputs"]["plain"]["written"]["from"]]
    assert narrow and all(o["input_from_checkpoint"] > 1 for o in narrow), (
        "a stateless path's later checkpoints should not reach back to the start"
    )


def test_a_windows_rows_came_from_the_input_ranges_reported(ran: Path) -> None:
    listing, where = checkpoints(ran), offsets(ran / "in.jsonl")
    rows = lines(ran / "windows.jsonl")
    assert len(rows) > 50
    for byte, row in rows:
        output = written_by(listing, "windows", byte)
        produced = [n for n in range(row["lo"], row["hi"] + 1) if n % 7 == row["user"]]
        assert len(produced) == row["c"]
        assert all(where[n] in input_range(output) for n in produced), (byte, row, output)
    reaching = [c["outputs"]["windows"]["input_from_checkpoint"] for c in listing]
    assert max(reaching) > 1, "windows closed long ago should not keep the start in lineage"


def test_at_answers_for_a_line_with_the_pipeline_that_ran(ran: Path) -> None:
    done = rillet("lineage", "p.rill", "--sink", "windows", "--at", "line:40", cwd=ran)
    assert done.returncode == 0, done.stderr.decode()
    text = done.stdout.decode()
    assert text.startswith("sink windows, byte ")
    assert "(line 40):" in text.splitlines()[0]
    assert "from input read in checkpoint" in text and "s: in.jsonl bytes " in text
    answer = json.loads(
        rillet(
            "lineage", "p.rill", "--sink", "windows", "--at", "line:40", "--format", "json", cwd=ran
        ).stdout
    )
    assert answer["line"] == 40 and set(answer["outputs"]) == {"windows"}
    assert answer["pipeline"]["plugins"]["rillet"]
    manifests = rillet("checkpoints", "p.rill", cwd=ran).stdout.decode()
    assert f"pipeline file {answer['pipeline']['file']}, rillet " in manifests


def test_a_bad_position_is_a_usage_error(ran: Path) -> None:
    done = rillet("lineage", "p.rill", "--sink", "windows", "--at", "twelve", cwd=ran)
    assert done.returncode == 2
    assert done.stderr.decode() == (
        "rillet: error: --at twelve: give a byte offset (1234) or a line (line:12) of a file "
        "sink, or a table version (version:3) of a delta sink\n"
    )
    alone = rillet("lineage", "p.rill", "--at", "12", cwd=ran)
    assert alone.returncode == 2
    assert alone.stderr.decode() == "rillet: error: --sink and --at go together\n"


def rows_added(table: Path, version: int) -> list[dict]:
    """The rows a Delta version added (read from its files: no Delta reader at exit)."""
    import pyarrow.parquet as pq
    from deltalake import DeltaTable

    now = set(DeltaTable(str(table), version=version).file_uris())
    before = set(DeltaTable(str(table), version=version - 1).file_uris()) if version else set()
    return [row for uri in sorted(now - before) for row in pq.read_table(uri).to_pylist()]


def test_a_delta_version_came_from_the_input_ranges_reported(ran: Path) -> None:
    where = offsets(ran / "in.jsonl")
    versions = sorted(int(p.stem) for p in (ran / "table" / "_delta_log").glob("*.json"))
    assert len(versions) >= 2
    for version in versions:
        done = rillet(
            "lineage",
            "p.rill",
            "--sink",
            "table",
            "--at",
            f"version:{version}",
            "--format",
            "json",
            cwd=ran,
        )
        assert done.returncode == 0, done.stderr.decode()
        answer = json.loads(done.stdout)
        assert answer["version"] == version
        within = input_range(answer["outputs"]["table"])
        for row in rows_added(ran / "table", version):
            produced = [n for n in range(row["lo"], row["hi"] + 1) if n % 7 == row["user"]]
            assert all(where[n] in within for n in produced), (version, row)
    missing = rillet("lineage", "p.rill", "--sink", "table", "--at", "version:999", cwd=ran)
    assert missing.returncode == 2
    assert missing.stderr.decode() == "rillet: error: table has no version 999\n"
