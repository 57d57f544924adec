"""The `postgres` connector (stdlib/postgres.py) on the real test server (tests/servers.py): the
exactly-once sink contract of _sqltable.py, and what is PostgreSQL's own: a server that is down
at the start is one clear line without the password, a server that goes away mid-run is retried
until it is back (nothing lost or doubled) or until `retry_timeout` has passed, schema-qualified
table names, and large epochs staged with COPY in chunks."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from rillet.runtime import SystemClock
from rillet.runtime.connector import ConnectorError, SinkContext, SourceContext
from rillet.stdlib.postgres import (
    PostgresSink,
    PostgresSinkConfig,
    PostgresTable,
    PostgresTableConfig,
)
from rillet.stdlib.sqltable import STAGE_ROWS, hidden_password
from tests.servers import POSTGRES, ensure, stop
from tests.stdlib._sqltable import SinkContract, opened, run, users, write_epoch

URL = POSTGRES.url


class PostgresDb:
    """This test's tables, all named with one random prefix, dropped at the end."""

    def __init__(self) -> None:
        ensure(POSTGRES)
        self.prefix = f"t{uuid.uuid4().hex[:10]}"

    def name(self, suffix: str) -> str:
        return f"{self.prefix}_{suffix}"

    def sink(
        self,
        table: str,
        key: str | list[str] | None = None,
        name: str = "out",
        retry_s: float = 60.0,
    ) -> PostgresSink:
        return PostgresSink(
            PostgresSinkConfig(URL, table, key, int(retry_s * 1000)),
            SinkContext(name=name, base_dir=Path.cwd()),
        )

    def table(self, table: str, key: str = "id") -> PostgresTable:
        context = SourceContext(
            name="users",
            schema=None,
            clock=SystemClock(),
            base_dir=Path.cwd(),
            batch_size=100,
            batch_timeout_s=0.1,
        )
        return PostgresTable(PostgresTableConfig(URL, table, key), context)

    def _query(self, statement: str, params: list | None = None) -> list[dict]:
        with psycopg.connect(URL, autocommit=True, row_factory=dict_row) as conn:
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def rows(self, table: str) -> list[dict]:
        if not self._query("SELECT to_regclass(%s) AS t", [table])[0]["t"]:
            return []
        return sorted(
            self._query(f"SELECT * FROM {table}"), key=lambda r: (r.get("id"), r.get("n"))
        )

    def staged(self) -> int:
        if not self._query("SELECT to_regclass('_rillet_staged') AS t")[0]["t"]:
            return 0
        return self._query(
            "SELECT count(*) AS n FROM _rillet_staged s JOIN _rillet_commits c ON "
            "c.id = s.sink_id WHERE c.target LIKE %s",
            [self.prefix + "%"],
        )[0]["n"]

    def execute(self, statement: str) -> None:
        self._query(statement)

    def columns(self, table: str) -> dict[str, str]:
        rows = self._query(
            "SELECT column_name AS c, data_type AS t FROM "
            "information_schema.columns WHERE table_name = %s "
            "ORDER BY ordinal_position",
            [table],
        )
        return {r["c"]: r["t"].upper() for r in rows}

    def drop(self) -> None:
        ensure(POSTGRES)
        tables = self._query(
            "SELECT schemaname || '.' || tablename AS t FROM pg_tables WHERE tablename LIKE %s",
            [self.prefix + "%"],
        )
        for row in tables:
            self.execute(f"DROP TABLE {row['t']}")
        if self._query("SELECT to_regclass('_rillet_commits') AS t")[0]["t"]:
            self.execute(
                f"DELETE FROM _rillet_staged WHERE sink_id IN (SELECT id FROM "
                f"_rillet_commits WHERE target LIKE '{self.prefix}%')"
            )
            self.execute(f"DELETE FROM _rillet_commits WHERE target LIKE '{self.prefix}%'")


@pytest.fixture
def db() -> Iterator[PostgresDb]:
    database = PostgresDb()
    yield database
    database.drop()


class TestPostgresSink(SinkContract):
    @pytest.fixture
    def db(self, db: PostgresDb) -> PostgresDb:
        return db

    def type_names(self, types: dict[str, str]) -> dict[str, str]:
        names = {
            "BIGINT": "int",
            "DOUBLE PRECISION": "float",
            "BOOLEAN": "bool",
            "TEXT": "str",
            "JSONB": "json",
        }
        return {column: names[kind] for column, kind in types.items()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_down_at_start_is_one_line_without_the_password() -> None:
    url = f"postgresql://rillet:s3cret@127.0.0.1:{free_port()}/rillet"
    sink = PostgresSink(PostgresSinkConfig(url, "t"), SinkContext("out", Path.cwd()))
    with pytest.raises(ConnectorError) as caught:
        run(sink.open)
    run(sink.aclose)
    message = str(caught.value)
    assert message.startswith(
        f"sink `out`: cannot connect to "
        f"{url.replace(':s3cret', '')}: connection refused (is the server "
        "running"
    )
    assert "s3cret" not in message and "\n" not in message
    table = PostgresTable(
        PostgresTableConfig(url, "t"),
        SourceContext("users", None, SystemClock(), Path.cwd(), 100, 0.1),
    )
    with pytest.raises(ConnectorError, match="^table `users`: cannot connect to "):
        run(table.load)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@h:5432/db", "postgresql://u@h:5432/db"),
        ("postgresql://u@h/db?sslmode=require&password=pw", "postgresql://u@h/db?sslmode=require"),
        ("host=h user=u password='p w' dbname=db", "host=h user=u dbname=db"),
    ],
)
def test_urls_are_shown_without_their_password(url: str, shown: str) -> None:
    assert hidden_password(url) == shown


@pytest.mark.timeout(180)
def test_a_server_that_goes_away_is_retried_until_it_is_back(db: PostgresDb) -> None:
    table = db.name("t")

    def restart_soon() -> None:
        threading.Event().wait(1.0)
        ensure(POSTGRES)

    async def main() -> None:
        sink = await opened(db.sink(table, key="id"))
        await sink.commit(await write_epoch(sink, users(0, 3)))
        stop(POSTGRES)
        restarter = threading.Thread(target=restart_soon)
        restarter.start()
        try:
            await sink.write(users(3, 6))
            committed = await sink.precommit()  # retried until the server is back
            await sink.commit(committed)
        finally:
            restarter.join()
        await sink.aclose()

    run(main)
    assert db.rows(table) == users(0, 6)
    assert db.staged() == 0


@pytest.mark.timeout(180)
def test_a_server_away_longer_than_its_retry_timeout_stops_the_sink(db: PostgresDb) -> None:
    table = db.name("t")

    async def main() -> None:
        sink = await opened(db.sink(table, retry_s=0.5))
        saved = await write_epoch(sink, users(0, 3))
        stop(POSTGRES)
        try:
            with pytest.raises(ConnectorError, match=r"gave up after retrying for 0.5 s"):
                await sink.commit(saved)
        finally:
            ensure(POSTGRES)
        await sink.aclose()
        resumed = db.sink(table)  # the checkpoint was saved: the resumed run applies it
        resumed.restore(saved)
        await resumed.open()
        await resumed.aclose()

    run(main)
    assert db.rows(table) == users(0, 3)


def test_schema_qualified_table(db: PostgresDb) -> None:
    schema = db.name("s")
    db.execute(f"CREATE SCHEMA {schema}")
    table = f"{schema}.users"

    async def main() -> None:
        sink = await opened(db.sink(table, key="id"))
        await sink.commit(await write_epoch(sink, users(0, 2)))
        await sink.aclose()

    try:
        run(main)
        assert db.rows(table) == users(0, 2)
        assert set(run(db.table(table).load)) == {0, 1}
    finally:
        db.execute(f"DROP SCHEMA {schema} CASCADE")


def test_large_epochs_are_staged_in_chunks_and_applied_whole(db: PostgresDb) -> None:
    table, upserted = db.name("t"), db.name("u")
    count = STAGE_ROWS * 2 + 123

    async def main() -> None:
        append, upsert = db.sink(table), db.sink(upserted, key="id", name="up")
        for sink in (append, upsert):
            await sink.open()
            for start in range(0, count, 1000):
                await sink.write(users(start, min(start + 1000, count)))
            await sink.write(users(0, 10, n=1))
            await sink.commit(await sink.precommit())
            await sink.aclose()

    run(main)
    assert len(db.rows(table)) == count + 10
    rows = db.rows(upserted)
    assert len(rows) == count and [r["n"] for r in rows[:11]] == [1] * 10 + [0]
    assert db.staged() == 0
