"""The `delta` sink's lifecycle (stdlib/delta.py): each checkpoint one table version carrying
its application transaction and rillet's facts; a crash at any step, simulated by dropping the
sink object and building a new one (with `restore` when the runtime would resume), commits no
checkpoint twice and loses none."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from deltalake import DeltaTable

from rillet.runtime.plugin import ConnectorError, SinkContext
from rillet.stdlib.delta import DeltaSink, DeltaSinkConfig

KEY = ["user", "window_start"]


def sink(base: Path, key: list[str] | None = KEY, restore: dict | None = None) -> DeltaSink:
    context = SinkContext("out", base, pipeline="p")
    made = DeltaSink(DeltaSinkConfig("out/t", key=key, partition_by=["dt"]), context)
    if restore is not None:
        made.restore(restore)
    anyio.run(made.open)
    return made


def rows(start: int, stop: int, n: int = 0) -> list[dict]:
    return [
        {"user": i % 3, "window_start": i // 3, "dt": "2026-12-03", "n": n}
        for i in range(start, stop)
    ]


def table(base: Path, version: int | None = None) -> list[dict]:
    found = DeltaTable(base / "out" / "t", version=version).to_pyarrow_table().to_pylist()
    return sorted(found, key=lambda r: (r["window_start"], r["user"]))


def write_epoch(made: DeltaSink, records: list[dict]) -> dict:
    anyio.run(made.write, records)
    return anyio.run(made.precommit)


def test_each_checkpoint_is_one_version_with_its_transaction(tmp_path: Path) -> None:
    made = sink(tmp_path)
    anyio.run(made.commit, write_epoch(made, rows(0, 6)))
    anyio.run(made.commit, write_epoch(made, rows(3, 9, n=1)))
    log = DeltaTable(tmp_path / "out" / "t")
    assert log.version() == 1
    assert log.transaction_version("rillet:p/out/0") == 2
    history = sorted(log.history(), key=lambda h: h["version"])
    assert [h["rillet.checkpoint"] for h in history] == ["1", "2"]
    assert {(h["rillet.pipeline"], h["rillet.sink"]) for h in history} == {("p", "out")}
    assert table(tmp_path, version=0) == rows(0, 6)
    assert table(tmp_path) == rows(0, 3) + rows(3, 9, n=1)


def test_one_epoch_keeps_the_last_row_of_each_key(tmp_path: Path) -> None:
    made = sink(tmp_path)
    anyio.run(made.commit, write_epoch(made, rows(0, 3) + rows(0, 3, n=2)))
    assert table(tmp_path) == rows(0, 3, n=2)


def test_a_crash_before_commit_is_committed_once_by_the_resumed_run(tmp_path: Path) -> None:
    made = sink(tmp_path, key=None)
    saved = write_epoch(made, rows(0, 3))  # the manifest is saved, then the process dies
    write_epoch(made, rows(3, 6))  # staged, never part of a saved checkpoint
    resumed = sink(tmp_path, key=None, restore=saved)
    assert table(tmp_path) == rows(0, 3)
    anyio.run(resumed.commit, write_epoch(resumed, rows(3, 6)))
    again = sink(tmp_path, key=None, restore={"epoch": 2})  # resumed after its last commit
    anyio.run(again.commit, write_epoch(again, []))
    assert table(tmp_path) == rows(0, 6)
    assert DeltaTable(tmp_path / "out" / "t").version() == 1


def test_resuming_an_append_from_before_its_last_version_is_refused(tmp_path: Path) -> None:
    made = sink(tmp_path, key=None)
    first = write_epoch(made, rows(0, 3))
    anyio.run(made.commit, first)
    anyio.run(made.commit, write_epoch(made, rows(3, 6)))
    with pytest.raises(ConnectorError, match="already holds this sink's rows up to epoch 2"):
        sink(tmp_path, key=None, restore=first)
    keyed = sink(tmp_path, restore=first)  # with a key, rows written again replace themselves
    assert keyed.epoch == 3
