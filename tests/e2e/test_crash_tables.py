"""The table sinks through the real `rillet` command, SIGKILLed at random moments and resumed
(the harness of test_crash.py): windowed aggregates written into `delta` (merged on a composite
key, partitioned by day), `parquet` and `file` (partitioned by day), and composite-key upserts
into `postgres` and `sqlite` end equal to an uninterrupted run's. After each kill, no partial or
uncommitted Parquet file is visible and nothing is there twice; the Delta table's history has
one version per checkpoint that wrote rows, and each older version holds exactly the rows of
the checkpoints up to it."""

from __future__ import annotations

import json
import random
import shutil
from collections import Counter
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from rillet.stdlib.generate import START_MS, click_events
from tests.e2e.test_crash import run_to_completion, run_with_kills
from tests.e2e.test_databases import postgres_rows, prefix, sqlite_rows  # noqa: F401
from tests.servers import POSTGRES

KILLS = 6
KEY = ("page", "window_start")
PIPELINE = """set batch_size = 200
set checkpoint_interval = 50ms
schema Click {
  ts: int
  user: int
  page: str
  status: int
  latency_ms: float
}
source clicks: Click = file("data/clicks.jsonl")
sink table = delta("out/table", key=["page", "window_start"], partition_by=["dt"])
sink files = parquet("out/files", partition_by=["dt"])
sink daily = file("out/daily/windows.jsonl", partition_by=["dt"])
sink pg = postgres("{url}", "{table}", key=["page", "window_start"])
sink lite = sqlite("out/db.sqlite", "windows", key=["window_start", "page"])
stream windows = clicks | event_time ts lateness 2s | window tumbling 10m
  | aggregate by page { n = count(), total = sum(latency_ms) }
  | derive dt = date(window_start)
windows | into table
windows | into files
windows | into daily
windows | into pg
windows | into lite
"""


def delta_rows(folder: Path, version: int | None = None) -> list[dict]:
    """The table's rows at `version` (its newest without), read from the files its log names:
    pyarrow's own reader, since deltalake's `to_pyarrow_table` can abort the process at exit."""
    root = (folder / "out" / "table").resolve()
    uris = DeltaTable(root, version=version).file_uris()
    found = ds.dataset(uris, format="parquet", partitioning="hive", partition_base_dir=str(root))
    return sorted(found.to_table().to_pylist(), key=lambda r: (r["page"], r["window_start"]))


def parquet_rows(folder: Path) -> list[dict]:
    """Every visible file read whole (a partial one would not be), then their rows."""
    root = folder / "out" / "files"
    files = sorted(root.rglob("*")) if root.is_dir() else []
    parts = [p for p in files if p.is_file()]
    for part in parts:
        assert part.name.startswith("part-") and part.suffix == ".parquet", part
        pq.read_table(part)
    if not parts:
        return []
    table = ds.dataset(root, format="parquet", partitioning="hive").to_table()
    return table.to_pylist()


def keyed(rows: list[dict]) -> dict[tuple, dict]:
    """`rows` by their key; each key once."""
    counts = Counter(tuple(r[f] for f in KEY) for r in rows)
    assert not [k for k, n in counts.items() if n > 1], "a key twice"
    return {tuple(r[f] for f in KEY): r for r in rows}


def write_clicks(folder: Path) -> None:
    (folder / "data").mkdir(parents=True)
    events = click_events(random.Random(15), 0, 100_000, START_MS, 2000.0)  # 2.3 days
    (folder / "data" / "clicks.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))


@pytest.mark.timeout(600)
def test_killed_runs_resume_to_the_tables_of_an_uninterrupted_run(
    prefix: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    folders = {kind: tmp_path / kind for kind in ("reference", "crashed")}
    write_clicks(folders["reference"])
    shutil.copytree(folders["reference"] / "data", folders["crashed"] / "data")
    for kind, folder in folders.items():
        text = PIPELINE.replace("{url}", POSTGRES.url).replace("{table}", f"{prefix}_{kind}")
        (folder / "p.rill").write_text(text)
    run_to_completion(folders["reference"])
    want = keyed(delta_rows(folders["reference"]))
    assert len({r["dt"] for r in want.values()}) == 3

    def nothing_partial_nor_twice() -> None:
        crashed = folders["crashed"]
        for rows in (parquet_rows(crashed), delta_rows(crashed) if has_table(crashed) else []):
            assert all(want[key] == row for key, row in keyed(rows).items())

    kills = run_with_kills(folders["crashed"], random.Random(15), KILLS, nothing_partial_nor_twice)
    assert kills >= 4
    crashed = folders["crashed"]
    assert delta_rows(crashed) == list(want.values())
    assert sorted(parquet_rows(crashed), key=lambda r: (r["page"], r["window_start"])) == [
        {f: r[f] for f in ("page", "window_start", "window_end", "n", "total", "dt")}
        for r in want.values()
    ]
    daily = sorted((crashed / "out" / "daily").glob("*/windows.jsonl"))
    assert [p.parent.name for p in daily] == sorted({f"dt={r['dt']}" for r in want.values()})
    for path in daily:
        reference = folders["reference"] / path.relative_to(crashed)
        assert sorted(path.read_bytes().splitlines()) == sorted(reference.read_bytes().splitlines())
    assert postgres_rows(f"{prefix}_crashed") == postgres_rows(f"{prefix}_reference")
    lite = sqlite_rows(crashed / "out" / "db.sqlite", "windows")
    assert lite == sqlite_rows(folders["reference"] / "out" / "db.sqlite", "windows")
    assert len(lite) == len(want)
    history_is_one_version_per_checkpoint(crashed, want)


def has_table(folder: Path) -> bool:
    return DeltaTable.is_deltatable(str(folder / "out" / "table"))


def history_is_one_version_per_checkpoint(folder: Path, want: dict[tuple, dict]) -> None:
    """Versions 0..n, each the commit of one checkpoint (increasing, none twice), the newest
    recorded as the writer's transaction; each older version holds the rows of the one before
    it and those it added, every one as the uninterrupted run wrote it."""
    table = DeltaTable(str((folder / "out" / "table").resolve()))
    history = sorted(table.history(), key=lambda h: h["version"])
    assert [h["version"] for h in history] == list(range(table.version() + 1))
    checkpoints = [int(h["rillet.checkpoint"]) for h in history]
    assert checkpoints == sorted(set(checkpoints))
    assert table.transaction_version("rillet:p/table/0") == checkpoints[-1]
    before: dict[tuple, dict] = {}
    for entry in history:
        rows = keyed(delta_rows(folder, entry["version"]))
        assert before.items() <= rows.items()
        added = entry["operationMetrics"]
        inserted = added.get("num_target_rows_inserted", added.get("num_added_rows"))
        assert len(rows) - len(before) == inserted, entry
        assert all(want[key] == row for key, row in rows.items())
        before = rows
    assert len(before) == len(want)
