"""The `file` sink with `partition_by` (stdlib/filesink.py): one file per partition folder, each
cut back on resume to what the checkpoint committed; a folder's file begun after the checkpoint
is deleted, and a fresh run starts every folder over."""

from __future__ import annotations

import json
from pathlib import Path

import anyio

from rillet.runtime.plugin import SinkContext
from rillet.stdlib.filesink import FileSink, FileSinkConfig


def sink(base: Path, restore: dict | None = None) -> FileSink:
    made = FileSink(
        FileSinkConfig("out/clicks.jsonl", partition_by=["dt", "page"]), SinkContext("o", base)
    )
    if restore is not None:
        made.restore(restore)
    anyio.run(made.open)
    return made


def write_epoch(made: FileSink, records: list[dict]) -> dict:
    anyio.run(made.write, records)
    return anyio.run(made.precommit)


def click(i: int, dt: str = "2026-12-03", page: str = "/") -> dict:
    return {"i": i, "dt": dt, "page": page}


def output(base: Path) -> dict[str, list[int]]:
    return {
        str(p.relative_to(base / "out")): [
            json.loads(line)["i"] for line in p.read_text().splitlines()
        ]
        for p in sorted((base / "out").rglob("*.jsonl"))
    }


def test_each_partition_folder_gets_one_file(tmp_path: Path) -> None:
    made = sink(tmp_path)
    write_epoch(made, [click(1), click(2, page="/a b"), click(3), click(4, dt="2026-12-04")])
    anyio.run(made.aclose)
    assert output(tmp_path) == {
        "dt=2026-12-03/page=%2F/clicks.jsonl": [1, 3],
        "dt=2026-12-03/page=%2Fa%20b/clicks.jsonl": [2],
        "dt=2026-12-04/page=%2F/clicks.jsonl": [4],
    }


def test_a_resumed_run_cuts_each_folder_back_to_its_checkpoint(tmp_path: Path) -> None:
    made = sink(tmp_path)
    saved = write_epoch(made, [click(1), click(2, dt="2026-12-04")])
    write_epoch(made, [click(3), click(4, dt="2026-12-05")])  # never in a saved checkpoint
    anyio.run(made.aclose)  # the files' handles go, with what they held (as at a crash)
    resumed = sink(tmp_path, restore=saved)
    write_epoch(resumed, [click(5)])
    anyio.run(resumed.aclose)
    assert output(tmp_path) == {
        "dt=2026-12-03/page=%2F/clicks.jsonl": [1, 5],
        "dt=2026-12-04/page=%2F/clicks.jsonl": [2],
    }


def test_a_fresh_run_starts_every_folder_over(tmp_path: Path) -> None:
    made = sink(tmp_path)
    write_epoch(made, [click(1), click(2, dt="2026-12-04")])
    anyio.run(made.aclose)
    fresh = sink(tmp_path)
    write_epoch(fresh, [click(3, dt="2026-12-04")])
    anyio.run(fresh.aclose)
    assert output(tmp_path) == {"dt=2026-12-04/page=%2F/clicks.jsonl": [3]}
