"""The SQL of the `postgres` connector (postgres.py): imported when a pipeline uses it, so
psycopg costs nothing to the runs that do not."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

import msgspec
import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from .sqltable import Category, hidden_password

CONNECT_TIMEOUT_S = 10
TYPES: dict[Category, str] = {
    "int": "BIGINT",
    "float": "DOUBLE PRECISION",
    "bool": "BOOLEAN",
    "str": "TEXT",
    "json": "JSONB",
}
_META_LOCK = 0x72696C6C6574  # pg_advisory_xact_lock key: one session creates the tables at once
_META = [
    """CREATE TABLE IF NOT EXISTS _rillet_commits (
        id SERIAL PRIMARY KEY, sink TEXT NOT NULL, target TEXT NOT NULL,
        epoch BIGINT NOT NULL DEFAULT 0, UNIQUE (sink, target))""",
    """CREATE TABLE IF NOT EXISTS _rillet_staged (
        sink_id INTEGER NOT NULL, epoch BIGINT NOT NULL, chunk INTEGER NOT NULL,
        seq BIGINT GENERATED ALWAYS AS IDENTITY, row JSONB NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS _rillet_staged_epoch ON _rillet_staged (sink_id, epoch)",
    """CREATE TABLE IF NOT EXISTS _rillet_chunks (
        sink_id INTEGER NOT NULL, epoch BIGINT NOT NULL, chunk INTEGER NOT NULL,
        fields TEXT[] NOT NULL, PRIMARY KEY (sink_id, epoch, chunk))""",
]
_ENCODER = msgspec.json.Encoder()


def copy_rows(prefix: bytes, rows: list[dict]) -> bytes:
    """COPY text format: `prefix` (the leading columns, tab-ended) and each row's JSON per line.
    JSON text holds no raw tab or newline; its backslashes are doubled for COPY."""
    lines = _ENCODER.encode_lines(rows).replace(b"\\", b"\\\\")
    return prefix + lines[:-1].replace(b"\n", b"\n" + prefix) + b"\n"


def _plain(value: Any) -> Any:
    """A value read from PostgreSQL as a record holds it (JSON-like)."""
    if value is None or isinstance(value, str | int | float | list | dict):
        return value
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | datetime.timedelta):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return str(value)


def _names(fields: tuple[str, ...]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(f) for f in fields)


class PostgresDatabase:
    """The `Database` of sqltable.py for one PostgreSQL table."""

    def __init__(self, url: str, table: str) -> None:
        self.url = url
        self.where = hidden_password(url)
        self.table = table
        self.opening = "connect to"
        self.hint = "is the server running, and the address right?"
        self.target = sql.Identifier(*table.split(".", 1))
        self.conn: psycopg.AsyncConnection | None = None

    def owns(self, error: BaseException) -> bool:
        return isinstance(error, psycopg.Error)

    def transient(self, error: BaseException) -> bool:
        return isinstance(error, psycopg.OperationalError)

    def reason(self, error: BaseException) -> str:
        text = str(error).strip()
        line = text.splitlines()[0] if text else type(error).__name__
        if "failed: " in line:  # "connection to server at ..., port ... failed: Connection refused"
            line = line.rsplit("failed: ", 1)[1]
        return line[:1].lower() + line[1:]

    async def connect(self) -> None:
        self.conn = await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, application_name="rillet"
        )

    async def disconnect(self) -> None:
        if self.conn is not None:
            conn, self.conn = self.conn, None
            await conn.close()

    def lost(self) -> bool:
        return self.conn is None or self.conn.closed or self.conn.broken

    @property
    def _conn(self) -> psycopg.AsyncConnection:
        assert self.conn is not None
        return self.conn

    def _name(self) -> str:
        return self.target.as_string(self._conn)

    async def register(self, sink: str) -> tuple[int, int]:
        conn = self._conn
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", [_META_LOCK])
            for statement in _META:
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO _rillet_commits (sink, target) VALUES (%s, %s) "
                "ON CONFLICT (sink, target) DO NOTHING",
                [sink, self.table],
            )
            cur = await conn.execute(
                "SELECT id, epoch FROM _rillet_commits WHERE sink = %s AND target = %s",
                [sink, self.table],
            )
            row = await cur.fetchone()
        assert row is not None
        return row[0], row[1]

    async def columns(self) -> dict[str, str] | None:
        cur = await self._conn.execute("SELECT to_regclass(%s)::oid", [self._name()])
        found = await cur.fetchone()
        if found is None or found[0] is None:
            return None
        cur = await self._conn.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
            "attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            [found[0]],
        )
        return dict(await cur.fetchall())

    async def check_key(self, key: tuple[str, ...]) -> bool:
        cur = await self._conn.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = to_regclass(%s) AND "
            "i.indisunique AND i.indnkeyatts = %s AND i.indpred IS NULL AND (SELECT "
            "array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_attribute a WHERE "
            "a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) AND a.attnum > 0) = %s)",
            [self._name(), len(key), sorted(key)],
        )
        row = await cur.fetchone()
        return bool(row and row[0])

    async def create(self, columns: dict[str, Category], key: tuple[str, ...]) -> None:
        parts = [
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(TYPES[kind]))
            for name, kind in columns.items()
        ]
        if key:
            parts.append(sql.SQL("PRIMARY KEY ({})").format(_names(key)))
        await self._conn.execute(
            sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
                self.target, sql.SQL(", ").join(parts)
            )
        )

    async def stage(
        self, sink_id: int, epoch: int, chunk: int, rows: list[dict], fields: list[str]
    ) -> None:
        conn = self._conn
        data = copy_rows(f"{sink_id}\t{epoch}\t{chunk}\t".encode(), rows)
        where = [sink_id, epoch, chunk]
        async with conn.transaction():
            await conn.execute(
                "DELETE FROM _rillet_staged WHERE sink_id = %s AND epoch = %s AND chunk = %s", where
            )
            await conn.execute(
                "INSERT INTO _rillet_chunks VALUES (%s, %s, %s, %s) ON CONFLICT "
                "(sink_id, epoch, chunk) DO UPDATE SET fields = EXCLUDED.fields",
                [*where, fields],
            )
            async with (
                conn.cursor() as cur,
                cur.copy("COPY _rillet_staged (sink_id, epoch, chunk, row) FROM STDIN") as copy,
            ):
                await copy.write(data)

    async def apply(self, sink_id: int, epoch: int, key: tuple[str, ...]) -> int:
        conn = self._conn
        async with conn.transaction():
            cur = await conn.execute(
                "SELECT epoch FROM _rillet_commits WHERE id = %s FOR UPDATE", [sink_id]
            )
            row = await cur.fetchone()
            assert row is not None
            applied = row[0]
            if applied >= epoch:
                return applied
            span = [sink_id, applied, epoch]
            cur = await conn.execute(
                "SELECT DISTINCT unnest(fields) AS f FROM _rillet_chunks WHERE sink_id = %s AND "
                "epoch > %s AND epoch <= %s ORDER BY f",
                span,
            )
            fields = [f for (f,) in await cur.fetchall()]
            if fields:
                await conn.execute(self._move(fields, key), span)
            for staging in ("_rillet_staged", "_rillet_chunks"):
                await conn.execute(
                    sql.SQL("DELETE FROM {} WHERE sink_id = %s AND epoch <= %s").format(
                        sql.Identifier(staging)
                    ),
                    [sink_id, epoch],
                )
            await conn.execute(
                "UPDATE _rillet_commits SET epoch = %s WHERE id = %s", [epoch, sink_id]
            )
        return applied

    def _move(self, fields: list[str], key: tuple[str, ...]) -> sql.Composed:
        """INSERT the staged rows of epochs in (%s, %s] of sink %s; with `key`, the last row of
        each key (one value, or a tuple of them) replaces the stored one."""
        names = sql.SQL(", ").join(sql.Identifier(f) for f in fields)
        staged = sql.SQL(
            "_rillet_staged s CROSS JOIN LATERAL jsonb_populate_record(NULL::{}, s.row) r "
            "WHERE s.sink_id = %s AND s.epoch > %s AND s.epoch <= %s"
        ).format(self.target)
        if not key:
            columns = sql.SQL(", ").join(sql.Identifier("r", f) for f in fields)
            return sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ORDER BY s.epoch, s.seq").format(
                self.target, names, columns, staged
            )
        k = _names(key)
        of_row = sql.SQL(", ").join(sql.Identifier("r", f) for f in key)
        updates = [
            sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(f), sql.Identifier(f))
            for f in fields
            if f not in key
        ]
        on_conflict = (
            sql.SQL("DO UPDATE SET ") + sql.SQL(", ").join(updates)
            if updates
            else sql.SQL("DO NOTHING")
        )
        return sql.SQL(
            "INSERT INTO {t} ({names}) SELECT {names} FROM (SELECT DISTINCT ON ({r}) r.* FROM "
            "{staged} ORDER BY {r}, s.epoch DESC, s.seq DESC) latest "
            "ON CONFLICT ({k}) {on_conflict}"
        ).format(t=self.target, names=names, k=k, r=of_row, staged=staged, on_conflict=on_conflict)

    async def discard(self, sink_id: int, after: int) -> None:
        conn = self._conn
        async with conn.transaction():
            for staging in ("_rillet_staged", "_rillet_chunks"):
                await conn.execute(
                    sql.SQL("DELETE FROM {} WHERE sink_id = %s AND epoch > %s").format(
                        sql.Identifier(staging)
                    ),
                    [sink_id, after],
                )
            if after == 0:
                await conn.execute("UPDATE _rillet_commits SET epoch = 0 WHERE id = %s", [sink_id])

    async def load(self, key: str) -> dict[object, dict]:
        rows: dict[object, dict] = {}
        async with self._conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql.SQL("SELECT * FROM {}").format(self.target))
            async for row in cur:
                record = {name: _plain(value) for name, value in row.items()}
                rows[record[key]] = record
        return rows
