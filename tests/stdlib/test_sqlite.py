"""The `sqlite` connector (stdlib/sqlite.py): the exactly-once sink contract of _sqltable.py on
an SQLite file, and what is SQLite's own: the path is relative to the pipeline's folder (created
when missing), the file is in WAL mode, booleans and JSON values come back from the table as
they went in, a locked database is waited for, and an unusable path is one clear error."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from rillet.runtime import SystemClock
from rillet.runtime.connector import ConnectorError, SinkContext, SourceContext
from rillet.stdlib import sqlite as sqlite_module
from rillet.stdlib.sqlite import SqliteSink, SqliteSinkConfig, SqliteTable, SqliteTableConfig
from tests.conftest import run_pipeline
from tests.stdlib._sqltable import SinkContract, opened, run, users, write_epoch

DB_PATH = "out/db.sqlite"


class SqliteDb:
    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.path = base_dir / DB_PATH

    def name(self, suffix: str) -> str:
        return suffix

    def sink(
        self,
        table: str,
        key: str | list[str] | None = None,
        name: str = "out",
        retry_s: float = 60.0,
    ) -> SqliteSink:
        return SqliteSink(
            SqliteSinkConfig(DB_PATH, table, key, int(retry_s * 1000)),
            SinkContext(name=name, base_dir=self.base_dir),
        )

    def table(self, table: str, key: str = "id") -> SqliteTable:
        context = SourceContext(
            name="users",
            schema=None,
            clock=SystemClock(),
            base_dir=self.base_dir,
            batch_size=100,
            batch_timeout_s=0.1,
        )
        return SqliteTable(SqliteTableConfig(DB_PATH, table, key), context)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        return conn

    def rows(self, table: str) -> list[dict]:
        with self._connect() as conn:
            found = conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", [table]).fetchone()
            if found is None:
                return []
            rows = [dict(r) for r in conn.execute(f'SELECT * FROM "{table}"')]
        return sorted(rows, key=lambda r: (r.get("id"), r.get("n")))

    def staged(self) -> int:
        with self._connect() as conn:
            found = conn.execute("SELECT 1 FROM sqlite_master WHERE name = '_rillet_staged'")
            if found.fetchone() is None:
                return 0
            return conn.execute("SELECT count(*) FROM _rillet_staged").fetchone()[0]

    def execute(self, statement: str) -> None:
        with self._connect() as conn:
            conn.execute(statement)

    def columns(self, table: str) -> dict[str, str]:
        with self._connect() as conn:
            return {r[1]: r[2].upper() for r in conn.execute(f'PRAGMA table_info("{table}")')}


class TestSqliteSink(SinkContract):
    @pytest.fixture
    def db(self, tmp_path: Path) -> SqliteDb:
        return SqliteDb(tmp_path)

    def type_names(self, types: dict[str, str]) -> dict[str, str]:
        names = {
            "INTEGER": "int",
            "REAL": "float",
            "BOOLEAN": "bool",
            "TEXT": "str",
            "JSON": "json",
        }
        return {column: names[kind] for column, kind in types.items()}


def test_path_is_relative_to_the_pipeline_folder_and_in_wal_mode(tmp_path: Path) -> None:
    db = SqliteDb(tmp_path)

    async def main() -> None:
        sink = await opened(db.sink("t"))
        await sink.commit(await write_epoch(sink, users(0, 2)))
        await sink.aclose()

    run(main)
    assert (tmp_path / DB_PATH).is_file()
    with sqlite3.connect(tmp_path / DB_PATH) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.rows("t") == users(0, 2)


def test_a_locked_database_is_waited_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_module, "BUSY_TIMEOUT_S", 0.05)  # retries beyond the busy wait
    db = SqliteDb(tmp_path)
    holder = db._connect()
    released = threading.Event()

    async def main() -> None:
        sink = await opened(db.sink("t"))
        await sink.write(users(0, 2))
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        timer = threading.Timer(0.5, lambda: (holder.execute("COMMIT"), released.set()))
        timer.start()
        try:
            committed = await sink.precommit()
        finally:
            timer.join()
        assert released.is_set()
        await sink.commit(committed)
        await sink.aclose()

    run(main)
    holder.close()
    assert db.rows("t") == users(0, 2)


def test_a_lock_held_past_its_retry_timeout_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_module, "BUSY_TIMEOUT_S", 0.05)
    db = SqliteDb(tmp_path)

    async def main() -> None:
        sink = await opened(db.sink("t", retry_s=0.3))
        await sink.write(users(0, 2))
        holder = db._connect()
        holder.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(
                ConnectorError,
                match=r"database is locked \(gave up after "
                r"retrying for 0.3 s\)",
            ):
                await sink.precommit()
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        await sink.aclose()

    run(main)


def test_a_path_that_cannot_be_a_database_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("a file where the folder should be")
    db = SqliteDb(tmp_path)
    sink = db.sink("t")
    with pytest.raises(ConnectorError) as caught:
        run(sink.open)
    assert str(caught.value).startswith(f"sink `out`: cannot open {DB_PATH}: ")
    run(sink.aclose)


def test_table_from_a_missing_file_is_one_clear_error_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match=f"table `users`: no such file: {DB_PATH}"):
        run(SqliteDb(tmp_path).table("t").load)
    assert not (tmp_path / "out").exists()


def test_json_and_boolean_columns_keep_their_values(tmp_path: Path) -> None:
    db = SqliteDb(tmp_path)
    values: list[Any] = [True, False, 1, 2.5, "text", "5", "true", [1, "a"], {"k": None}, None]
    records = [{"id": i, "flag": i % 2 == 0, "value": v} for i, v in enumerate(values)]

    async def main() -> None:
        sink = await opened(db.sink("t", key="id"))
        await sink.write(records[:3])  # created from these: `value` is JSON (bools and ints)
        await sink.commit(await sink.precommit())
        await sink.commit(await write_epoch(sink, records[3:]))
        await sink.aclose()

    run(main)
    assert db.columns("t")["flag"] == "BOOLEAN"
    assert db.columns("t")["value"] == "JSON"
    assert run(db.table("t").load) == {r["id"]: r for r in records}


def test_a_run_without_checkpoints_commits_at_its_end(tmp_path: Path, write) -> None:
    write(
        "in.jsonl", "".join(f'{{"id": {i}, "n": {i % 3}, "name": "user {i}"}}\n' for i in range(5))
    )
    text = (
        f'source s = file("in.jsonl")\nsink out = sqlite("{DB_PATH}", "t", key="n")\ns | into out\n'
    )
    run_pipeline(text, tmp_path)  # no checkpoint store: precommit and commit at the end
    assert sorted((r["n"], r["id"]) for r in SqliteDb(tmp_path).rows("t")) == [
        (0, 3),
        (1, 4),
        (2, 2),
    ]
    assert SqliteDb(tmp_path).staged() == 0
