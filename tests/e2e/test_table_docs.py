"""The examples of docs/language.md §9.12 (`parquet`) and §9.13 (`delta`) run through the real
`rillet` command and write what the sections say: day folders of Parquet files, and a Delta
table with one version per checkpoint carrying rillet's facts."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.dataset as ds
from deltalake import DeltaTable

from tests.conftest import rillet

REPO = Path(__file__).parents[2]
DAY_MS = 86_400_000
START_MS = 1_767_225_600_000  # 2026-01-01


def example(section: str, following: str) -> str:
    text = (REPO / "docs" / "language.md").read_text()
    body = text[text.index(f"### {section} ") : text.index(following)]
    return body.split("```rill\n", 1)[1].split("```", 1)[0]


def write_clicks(folder: Path) -> list[dict]:
    clicks = [
        {"ts": START_MS + i * DAY_MS // 4, "user": i % 3, "page": f"/p{i % 2}"} for i in range(12)
    ]
    (folder / "data").mkdir()
    (folder / "data" / "clicks.jsonl").write_text("".join(json.dumps(c) + "\n" for c in clicks))
    return clicks


def test_the_parquet_example_writes_day_folders(tmp_path: Path) -> None:
    clicks = write_clicks(tmp_path)
    (tmp_path / "p.rill").write_text(example("9.12", "### 9.13 "))
    result = rillet("run", "-q", "p.rill", cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    days = sorted(p.name for p in (tmp_path / "out" / "clicks").iterdir())
    assert days == ["dt=2026-01-01", "dt=2026-01-02", "dt=2026-01-03"]
    table = ds.dataset(tmp_path / "out" / "clicks", partitioning="hive").to_table()
    assert sorted(r["ts"] for r in table.to_pylist()) == [c["ts"] for c in clicks]


def test_the_delta_example_commits_versions_with_their_checkpoint(tmp_path: Path) -> None:
    write_clicks(tmp_path)
    (tmp_path / "p.rill").write_text(example("9.13", "## 10. "))
    result = rillet("run", "-q", "p.rill", cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    table = DeltaTable(str(tmp_path / "out" / "features"))
    history = sorted(table.history(), key=lambda h: h["version"])
    assert {(h["rillet.pipeline"], h["rillet.sink"]) for h in history} == {("p", "features")}
    checkpoints = [int(h["rillet.checkpoint"]) for h in history]
    assert checkpoints == sorted(set(checkpoints))  # one version per checkpoint, in order
    assert table.transaction_version("rillet:p/features/0") == checkpoints[-1]
    assert table.metadata().partition_columns == ["dt"]
    days = {Path(uri).parent.name for uri in table.file_uris()}
    assert days == {"dt=2026-01-01", "dt=2026-01-02", "dt=2026-01-03"}
