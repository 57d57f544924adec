"""The `parquet` sink's lifecycle (stdlib/parquet.py): files appear only once their checkpoint
commits, in Hive-style partition folders; a crash at any step, simulated by dropping the sink
object and building a new one (with `restore` when the runtime would resume), leaves no file
visible before its checkpoint and none twice."""

from __future__ import annotations

from pathlib import Path

import anyio
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from rillet.runtime.plugin import FieldSpec, SchemaSpec, SinkContext, StateMismatch, TypeSpec
from rillet.stdlib.parquet import ParquetSink, ParquetSinkConfig


def sink(base: Path, restore: dict | None = None) -> ParquetSink:
    made = ParquetSink(ParquetSinkConfig("out/t", partition_by=["dt"]), SinkContext("out", base))
    if restore is not None:
        made.restore(restore)
    anyio.run(made.open)
    return made


def clicks(start: int, stop: int) -> list[dict]:
    return [{"id": i, "dt": f"2026-12-0{1 + i % 2}", "page": f"/p{i}"} for i in range(start, stop)]


def visible(base: Path) -> list[dict]:
    if not any((base / "out" / "t").rglob("*.parquet")):
        return []
    table = ds.dataset(base / "out" / "t", partitioning="hive").to_table()
    return sorted(table.to_pylist(), key=lambda r: r["id"])


def files(base: Path) -> list[str]:
    return sorted(str(p.relative_to(base / "out" / "t")) for p in (base / "out/t").rglob("*"))


def write_epoch(made: ParquetSink, records: list[dict]) -> dict:
    anyio.run(made.write, records)
    return anyio.run(made.precommit)


def test_files_appear_in_partition_folders_at_commit_not_before(tmp_path: Path) -> None:
    made = sink(tmp_path)
    committed = write_epoch(made, clicks(0, 4))
    assert visible(tmp_path) == []
    anyio.run(made.commit, committed)
    assert files(tmp_path) == [
        "dt=2026-12-01",
        "dt=2026-12-01/part-1-0.parquet",
        "dt=2026-12-02",
        "dt=2026-12-02/part-1-1.parquet",
    ]
    assert visible(tmp_path) == clicks(0, 4)


def test_a_crash_before_commit_is_committed_by_the_resumed_run(tmp_path: Path) -> None:
    made = sink(tmp_path)
    anyio.run(made.commit, write_epoch(made, clicks(0, 2)))
    saved = write_epoch(made, clicks(2, 4))  # the manifest is saved, then the process dies
    write_epoch(made, clicks(4, 6))  # staged, never part of a saved checkpoint
    resumed = sink(tmp_path, restore=saved)
    assert visible(tmp_path) == clicks(0, 4)
    anyio.run(resumed.commit, write_epoch(resumed, clicks(4, 6)))
    anyio.run(resumed.aclose)
    assert visible(tmp_path) == clicks(0, 6)


def test_files_of_an_epoch_past_the_checkpoint_are_cut_back(tmp_path: Path) -> None:
    made = sink(tmp_path)
    first = write_epoch(made, clicks(0, 2))
    anyio.run(made.commit, first)
    anyio.run(made.commit, write_epoch(made, clicks(2, 4)))  # its checkpoint is lost
    resumed = sink(tmp_path, restore=first)
    assert visible(tmp_path) == clicks(0, 2)
    anyio.run(resumed.commit, write_epoch(resumed, clicks(2, 4)))
    assert visible(tmp_path) == clicks(0, 4)


def test_a_fresh_run_starts_the_output_over(tmp_path: Path) -> None:
    made = sink(tmp_path)
    anyio.run(made.commit, write_epoch(made, clicks(0, 4)))
    fresh = sink(tmp_path)
    anyio.run(fresh.commit, write_epoch(fresh, clicks(10, 11)))
    assert visible(tmp_path) == clicks(10, 11)


def test_a_null_or_slashed_value_makes_one_folder_read_back_as_itself(tmp_path: Path) -> None:
    made = ParquetSink(
        ParquetSinkConfig("out/t", partition_by=["page"]), SinkContext("o", tmp_path)
    )
    anyio.run(made.open)
    rows = [{"id": 1, "page": "/a=b"}, {"id": 2, "page": None}]
    anyio.run(made.commit, write_epoch(made, rows))
    assert files(tmp_path)[0::2] == ["page=%2Fa%3Db", "page=__HIVE_DEFAULT_PARTITION__"]
    table = ds.dataset(tmp_path / "out" / "t", partitioning="hive").to_table()
    assert sorted(table.to_pylist(), key=lambda r: r["id"]) == rows


def test_columns_take_the_types_the_checker_knows(tmp_path: Path) -> None:
    declared = SchemaSpec(
        "into out",
        (
            FieldSpec("id", TypeSpec("int")),
            FieldSpec("ms", TypeSpec("float")),
            FieldSpec("referrer", TypeSpec("str", optional=True)),
            FieldSpec("tags", TypeSpec("list", item=TypeSpec("str"))),
        ),
    )
    context = SinkContext("out", tmp_path, schema=declared)
    made = ParquetSink(ParquetSinkConfig("out/t"), context)
    anyio.run(made.open)
    anyio.run(made.commit, write_epoch(made, [{"id": 1, "ms": 5, "tags": []}]))
    (part,) = (tmp_path / "out" / "t").glob("*.parquet")
    schema = pq.read_schema(part)
    assert [(f.name, str(f.type)) for f in schema] == [
        ("id", "int64"),
        ("ms", "double"),  # 5 was an int, the field is a float
        ("tags", "list<element: string>"),  # empty, yet typed
        ("referrer", "string"),  # never there, yet a column
    ]


def test_resuming_into_another_folder_is_refused_and_staging_is_tidied(tmp_path: Path) -> None:
    made = sink(tmp_path)
    saved = write_epoch(made, clicks(0, 2))
    anyio.run(made.commit, saved)
    assert not (tmp_path / "out" / ".t.staging").exists()  # everything committed
    other = ParquetSink(ParquetSinkConfig("out/u"), SinkContext("out", tmp_path))
    with pytest.raises(StateMismatch, match="wrote to out/t up to the checkpoint being resumed"):
        other.restore(saved)
