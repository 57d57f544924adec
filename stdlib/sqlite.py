"""The `sqlite` connector: an exactly-once sink (appends, or upserts with `key`) and a lookup
table, in an SQLite file: the embedded equivalent of `postgres`.

The protocol with the runtime (staging per checkpoint epoch, then one moving transaction per
commit) is in sqltable.py; this module is its SQL. The file's path is relative to the pipeline
file's folder (its folder is created); it is put in WAL mode, so readers see the table while a
run writes it. Calls into sqlite3 run in a worker thread, one at a time, so a large commit does
not stall the event loop. Staged rows are JSON text, moved with `json_extract` (SQLite's JSON
functions, built in since 3.38 and in every Python 3.11 build before that).

SQLite has no boolean or JSON column type: a created table declares `BOOLEAN` (stored as 0/1)
and `JSON` (stored as JSON text), and the lookup table turns them back into booleans and values.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import msgspec

from rillet.runtime.plugin import ConnectorError, Plugin, SinkContext, SourceContext

from .sqltable import Category, SqlSink, load_table
from .tablekeys import Key, check_fields

plugin = Plugin("std")

BUSY_TIMEOUT_S = 5.0
TYPES: dict[Category, str] = {
    "int": "INTEGER",
    "float": "REAL",
    "bool": "BOOLEAN",
    "str": "TEXT",
    "json": "JSON",
}
_META = [
    """CREATE TABLE IF NOT EXISTS _rillet_commits (
        id INTEGER PRIMARY KEY AUTOINCREMENT, sink TEXT NOT NULL, target TEXT NOT NULL,
        epoch INTEGER NOT NULL DEFAULT 0, UNIQUE (sink, target))""",
    """CREATE TABLE IF NOT EXISTS _rillet_staged (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, sink_id INTEGER NOT NULL,
        epoch INTEGER NOT NULL, chunk INTEGER NOT NULL, row TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS _rillet_staged_epoch ON _rillet_staged (sink_id, epoch)",
    """CREATE TABLE IF NOT EXISTS _rillet_chunks (
        sink_id INTEGER NOT NULL, epoch INTEGER NOT NULL, chunk INTEGER NOT NULL,
        fields TEXT NOT NULL, PRIMARY KEY (sink_id, epoch, chunk))""",
]
_ENCODER = msgspec.json.Encoder()
_DECODE = msgspec.json.decode


class SqliteSinkConfig(msgspec.Struct, forbid_unknown_fields=True):
    path: str
    table: str
    key: Key = None
    """The field, or list of fields, a record replaces the row of (upsert); none appends."""
    retry_timeout: int = 60_000
    """A duration (ms): how long a database locked by another writer is retried."""

    def __post_init__(self) -> None:
        check_fields("key", self.key)


class SqliteTableConfig(msgspec.Struct, forbid_unknown_fields=True):
    path: str
    table: str
    key: str = "id"


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _path(field: str) -> str:
    """A JSON path naming `field` of the top object (its quotes doubled for the SQL string)."""
    return "'$." + quoted(field).replace("'", "''") + "'"


def _value(field: str, declared: str) -> str:
    """The SQL taking `field` out of a staged row for a column declared `declared`: JSON columns
    keep JSON text (booleans too), other columns the value (booleans as 0/1)."""
    path = _path(field)
    if declared.upper() != "JSON":
        return f"json_extract(row, {path})"
    return (
        f"CASE coalesce(json_type(row, {path}), 'null') WHEN 'null' THEN NULL "
        f"WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
        f"ELSE json_quote(json_extract(row, {path})) END"
    )


class SqliteDatabase:
    """The `Database` of sqltable.py for one table of an SQLite file."""

    def __init__(self, path: Path, shown: str, table: str) -> None:
        self.path = path
        self.where = shown
        self.table = table
        self.opening = "open"
        self.hint = "is it a database file, in a folder that can be written?"
        self.target = quoted(table)
        self.conn: sqlite3.Connection | None = None
        self.declared: dict[str, str] = {}

    def owns(self, error: BaseException) -> bool:
        return isinstance(error, sqlite3.Error | OSError)

    def transient(self, error: BaseException) -> bool:
        text = str(error)
        return isinstance(error, sqlite3.OperationalError) and ("locked" in text or "busy" in text)

    def reason(self, error: BaseException) -> str:
        if isinstance(error, OSError) and error.strerror:
            return error.strerror[:1].lower() + error.strerror[1:]
        text = str(error).strip()
        return text.splitlines()[0] if text else type(error).__name__

    async def _run(self, fn, *args):
        return await anyio.to_thread.run_sync(fn, *args)

    def _connect(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error:
            conn.close()
            raise
        self.conn = conn

    async def connect(self) -> None:
        await self._run(self._connect)

    async def disconnect(self) -> None:
        if self.conn is not None:
            conn, self.conn = self.conn, None
            await self._run(conn.close)

    def lost(self) -> bool:
        return self.conn is None  # a busy or locked database keeps its connection

    @property
    def _conn(self) -> sqlite3.Connection:
        assert self.conn is not None
        return self.conn

    def _transaction(self, body):
        """Run `body(conn)` in one write transaction (taking the lock first: no deadlock)."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = body(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    async def register(self, sink: str) -> tuple[int, int]:
        def body(conn: sqlite3.Connection) -> tuple[int, int]:
            for statement in _META:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO _rillet_commits (sink, target) VALUES (?, ?) "
                "ON CONFLICT (sink, target) DO NOTHING",
                [sink, self.table],
            )
            return conn.execute(
                "SELECT id, epoch FROM _rillet_commits WHERE sink = ? AND target = ?",
                [sink, self.table],
            ).fetchone()

        return await self._run(self._transaction, body)

    def _columns(self) -> dict[str, str] | None:
        rows = self._conn.execute(f"PRAGMA table_info({self.target})").fetchall()
        self.declared = {name: kind for _, name, kind, *_ in rows}
        return dict(self.declared) if rows else None

    async def columns(self) -> dict[str, str] | None:
        return await self._run(self._columns)

    def _check_key(self, key: tuple[str, ...]) -> bool:
        conn = self._conn
        wanted = sorted(key)
        info = conn.execute(f"PRAGMA table_info({self.target})").fetchall()
        if sorted(row[1] for row in info if row[5] > 0) == wanted:  # the primary key
            return True
        for _, index, unique, _origin, partial in conn.execute(
            f"PRAGMA index_list({self.target})"
        ).fetchall():
            if unique and not partial:
                names = [row[2] for row in conn.execute(f"PRAGMA index_info({quoted(index)})")]
                if sorted(names) == wanted:
                    return True
        return False

    async def check_key(self, key: tuple[str, ...]) -> bool:
        return await self._run(self._check_key, key)

    async def create(self, columns: dict[str, Category], key: tuple[str, ...]) -> None:
        parts = [f"{quoted(name)} {TYPES[kind]}" for name, kind in columns.items()]
        if key:
            parts.append(f"PRIMARY KEY ({', '.join(quoted(f) for f in key)})")
        statement = f"CREATE TABLE IF NOT EXISTS {self.target} ({', '.join(parts)})"
        await self._run(self._conn.execute, statement)

    async def stage(
        self, sink_id: int, epoch: int, chunk: int, rows: list[dict], fields: list[str]
    ) -> None:
        texts = _ENCODER.encode_lines(rows).decode().split("\n")[:-1]
        where = [sink_id, epoch, chunk]

        def body(conn: sqlite3.Connection) -> None:
            conn.execute(
                "DELETE FROM _rillet_staged WHERE sink_id = ? AND epoch = ? AND chunk = ?", where
            )
            conn.execute(
                "INSERT OR REPLACE INTO _rillet_chunks VALUES (?, ?, ?, ?)",
                [*where, _ENCODER.encode(fields).decode()],
            )
            conn.executemany(
                "INSERT INTO _rillet_staged (sink_id, epoch, chunk, row) VALUES (?, ?, ?, ?)",
                [(sink_id, epoch, chunk, t) for t in texts],
            )

        await self._run(self._transaction, body)

    async def apply(self, sink_id: int, epoch: int, key: tuple[str, ...]) -> int:
        def body(conn: sqlite3.Connection) -> int:
            (applied,) = conn.execute(
                "SELECT epoch FROM _rillet_commits WHERE id = ?", [sink_id]
            ).fetchone()
            if applied >= epoch:
                return applied
            span = [sink_id, applied, epoch]
            fields = [
                f
                for (f,) in conn.execute(
                    "SELECT DISTINCT j.value FROM _rillet_chunks c, json_each(c.fields) j WHERE "
                    "c.sink_id = ? AND c.epoch > ? AND c.epoch <= ? ORDER BY j.value",
                    span,
                )
            ]
            if fields:
                self._columns()  # the declared types, as the table is now
                conn.execute(self._move(fields, key), span)
            for staging in ("_rillet_staged", "_rillet_chunks"):
                conn.execute(
                    f"DELETE FROM {staging} WHERE sink_id = ? AND epoch <= ?", [sink_id, epoch]
                )
            conn.execute("UPDATE _rillet_commits SET epoch = ? WHERE id = ?", [epoch, sink_id])
            return applied

        return await self._run(self._transaction, body)

    def _move(self, fields: list[str], key: tuple[str, ...]) -> str:
        """INSERT the staged rows of epochs in (?, ?] of sink ?; with `key`, the last row of each
        key (one value, or a tuple of them) replaces the stored one."""
        names = ", ".join(quoted(f) for f in fields)
        values = ", ".join(_value(f, self.declared.get(f, "")) for f in fields)
        where = "sink_id = ? AND epoch > ? AND epoch <= ?"
        if not key:
            return (
                f"INSERT INTO {self.target} ({names}) SELECT {values} FROM _rillet_staged "
                f"WHERE {where} ORDER BY epoch, seq"
            )
        updates = ", ".join(f"{quoted(f)} = excluded.{quoted(f)}" for f in fields if f not in key)
        on_conflict = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        by = ", ".join(f"json_extract(row, {_path(f)})" for f in key)
        return (
            f"INSERT INTO {self.target} ({names}) SELECT {values} FROM (SELECT row, "
            f"row_number() OVER (PARTITION BY {by} ORDER BY "
            f"epoch DESC, seq DESC) AS latest FROM _rillet_staged WHERE {where}) "
            f"WHERE latest = 1 ON CONFLICT ({', '.join(quoted(f) for f in key)}) {on_conflict}"
        )

    async def discard(self, sink_id: int, after: int) -> None:
        def body(conn: sqlite3.Connection) -> None:
            for staging in ("_rillet_staged", "_rillet_chunks"):
                conn.execute(
                    f"DELETE FROM {staging} WHERE sink_id = ? AND epoch > ?", [sink_id, after]
                )
            if after == 0:
                conn.execute("UPDATE _rillet_commits SET epoch = 0 WHERE id = ?", [sink_id])

        await self._run(self._transaction, body)

    def _load(self, key: str) -> dict[object, dict]:
        self._columns()
        booleans = {n for n, kind in self.declared.items() if kind.upper() == "BOOLEAN"}
        jsons = {n for n, kind in self.declared.items() if kind.upper() == "JSON"}
        cursor = self._conn.execute(f"SELECT * FROM {self.target}")
        names = [d[0] for d in cursor.description]
        rows: dict[object, dict] = {}
        for values in cursor:
            record = dict(zip(names, values))
            for name in booleans:
                if record[name] is not None:
                    record[name] = bool(record[name])
            for name in jsons:
                if isinstance(record[name], str):
                    record[name] = _DECODE(record[name])
            rows[record[key]] = record
        return rows

    async def load(self, key: str) -> dict[object, dict]:
        return await self._run(self._load, key)


def _database(path: str, table: str, base_dir: Path) -> SqliteDatabase:
    return SqliteDatabase(base_dir / path, path, table)


@plugin.sink("sqlite", config=SqliteSinkConfig, delivery="exactly-once")
class SqliteSink(SqlSink):
    """Writes records to a table of an SQLite file, creating both when missing; with `key`, a
    record replaces the row with its key (upsert). Exactly-once with checkpoints: a checkpoint's
    rows become visible in one transaction once it is saved."""

    def __init__(self, config: SqliteSinkConfig, context: SinkContext) -> None:
        self.config = config
        super().__init__(
            _database(config.path, config.table, context.base_dir),
            context,
            config.key,
            config.retry_timeout / 1000,
        )


@plugin.table("sqlite", config=SqliteTableConfig)
class SqliteTable:
    """A lookup table loaded whole from a table of an SQLite file, keyed by `key`."""

    def __init__(self, config: SqliteTableConfig, context: SourceContext) -> None:
        self.config = config
        self.context = context

    async def load(self) -> dict[object, dict]:
        database = _database(self.config.path, self.config.table, self.context.base_dir)
        if not database.path.exists():  # connecting would create an empty file
            raise ConnectorError(f"table `{self.context.name}`: no such file: {self.config.path}")
        return await load_table(database, self.context.name, self.config.key)
