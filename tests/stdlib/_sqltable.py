"""The contract of the database sinks and tables (stdlib/sqltable.py), run against each database:
test_sqlite.py and test_postgres.py subclass `SinkContract` and give it a `db` fixture.

A crash is simulated by dropping a sink object without `aclose()` or `commit()` at some point of
its lifecycle, then building a new one, with `restore()` when the runtime would resume; the table
must then hold each record exactly once, and staging nothing after the last commit.
"""

from __future__ import annotations

from typing import Any, Protocol

import anyio
import pytest

from rillet.runtime.connector import ConnectorError
from rillet.stdlib import sqltable
from rillet.stdlib.sqltable import SqlSink


class Db(Protocol):
    """One database for one test: tables made by `name()` are this test's own."""

    def name(self, suffix: str) -> str: ...

    def sink(
        self,
        table: str,
        key: str | list[str] | None = None,
        name: str = "out",
        retry_s: float = 60.0,
    ) -> SqlSink: ...

    def table(self, table: str, key: str = "id") -> Any:
        """The `table` connector (for `lookup`) on `table`."""

    def rows(self, table: str) -> list[dict]:
        """Every row of `table`, sorted by `id`, then by `n`."""

    def staged(self) -> int:
        """Rows staged by the sinks of this test's tables."""

    def execute(self, statement: str) -> None: ...

    def columns(self, table: str) -> dict[str, str]:
        """The declared type of each column, upper case."""


def run(fn, *args):  # type: ignore[no-untyped-def]
    return anyio.run(fn, *args)


async def crash(sink: SqlSink) -> None:
    """The process dies: its connection goes away, nothing else happens (no `aclose`)."""
    await sink.database.disconnect()


async def opened(sink: SqlSink, restore: dict | None = None) -> SqlSink:
    """`sink` opened, after `restore(restore)` when it resumes a run."""
    if restore is not None:
        sink.restore(restore)
    await sink.open()
    return sink


async def write_epoch(sink: SqlSink, records: list[dict]) -> dict:
    await sink.write(records)
    return await sink.precommit()


def users(start: int, stop: int, n: int = 0) -> list[dict]:
    return [{"id": i, "n": n, "name": f"user {i}"} for i in range(start, stop)]


class SinkContract:
    def test_rows_become_visible_at_commit_not_before(self, db: Db) -> None:
        table = db.name("t")

        async def main() -> None:
            sink = await opened(db.sink(table))
            committed = await write_epoch(sink, users(0, 3))
            assert db.rows(table) == []  # created, still empty
            assert db.staged() == 3
            await sink.commit(committed)
            assert db.rows(table) == users(0, 3)
            assert db.staged() == 0
            await sink.aclose()

        run(main)

    def test_append_keeps_every_row_also_repeated_ones(self, db: Db) -> None:
        table = db.name("t")

        async def main() -> None:
            sink = await opened(db.sink(table))
            await sink.write(users(0, 2))
            await sink.write(users(0, 2))
            await sink.commit(await sink.precommit())
            await sink.aclose()

        run(main)
        assert db.rows(table) == sorted(users(0, 2) * 2, key=lambda r: r["id"])

    def test_upsert_keeps_the_last_row_of_each_key(self, db: Db) -> None:
        table = db.name("t")

        async def main() -> None:
            sink = await opened(db.sink(table, key="id"))
            await sink.write(users(0, 3, n=1))
            await sink.write(users(1, 2, n=2))  # the same key twice in one epoch
            await sink.commit(await sink.precommit())
            await sink.commit(await write_epoch(sink, users(2, 4, n=3)))
            await sink.aclose()

        run(main)
        assert [(r["id"], r["n"]) for r in db.rows(table)] == [(0, 1), (1, 2), (2, 3), (3, 3)]
        assert db.staged() == 0

    def test_upsert_on_a_composite_key_keeps_the_last_row_of_each_pair(self, db: Db) -> None:
        table = db.name("t")
        rows = [{"id": i % 2, "n": i // 2, "name": f"v{i}"} for i in range(6)]

        async def main() -> None:
            sink = await opened(db.sink(table, key=["id", "n"]))
            await sink.commit(await write_epoch(sink, rows))
            again = [{"id": 1, "n": 2, "name": "last"}, {"id": 0, "n": 3, "name": "new"}]
            await sink.commit(await write_epoch(sink, again))
            await sink.aclose()

        run(main)
        want = {(r["id"], r["n"]): r["name"] for r in [*rows]}
        want[(1, 2)], want[(0, 3)] = "last", "new"
        assert {(r["id"], r["n"]): r["name"] for r in db.rows(table)} == want
        assert len(db.rows(table)) == len(want)

    def test_composite_key_needs_a_unique_constraint_on_all_its_fields(self, db: Db) -> None:
        table = db.name("t")
        db.execute(f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, n BIGINT, name TEXT)")
        other = db.name("u")
        db.execute(f"CREATE TABLE {other} (id BIGINT, n BIGINT, name TEXT, UNIQUE (n, id))")

        async def main() -> None:
            sink = db.sink(table, key=["id", "n"])
            with pytest.raises(ConnectorError, match=r"constraint on \(`id`, `n`\) alone"):
                await sink.open()
            await sink.aclose()
            sink = await opened(db.sink(other, key=["id", "n"]))
            await sink.commit(await write_epoch(sink, users(0, 2) + users(0, 1)))
            await sink.aclose()

        run(main)
        assert db.rows(other) == users(0, 2)

    def test_commit_applies_every_epoch_up_to_its_own(self, db: Db) -> None:
        table = db.name("t")

        async def main() -> None:
            sink = await opened(db.sink(table))
            await write_epoch(sink, users(0, 2))  # its commit is skipped: a newer one follows
            second = await write_epoch(sink, users(2, 4))
            await sink.commit(second)
            await sink.commit(second)  # again: nothing changes
            await sink.aclose()

        run(main)
        assert db.rows(table) == users(0, 4)

    def test_crash_between_manifest_and_commit_is_applied_on_resume(self, db: Db) -> None:
        table = db.name("t")

        async def first_run() -> dict:
            sink = await opened(db.sink(table))
            await sink.commit(await write_epoch(sink, users(0, 2)))
            saved = await write_epoch(sink, users(2, 4))  # saved in a manifest, then
            await crash(sink)  # the process dies before its commit
            return saved

        saved = run(first_run)
        assert db.rows(table) == users(0, 2)

        async def resumed() -> None:
            sink = await opened(db.sink(table), saved)
            assert db.rows(table) == users(0, 4)
            await sink.commit(await write_epoch(sink, users(4, 5)))
            await sink.aclose()

        run(resumed)
        assert db.rows(table) == users(0, 5)
        assert db.staged() == 0

    def test_epoch_not_in_a_saved_checkpoint_is_dropped_on_resume(self, db: Db) -> None:
        table = db.name("t")

        async def first_run() -> dict:
            sink = await opened(db.sink(table))
            saved = await write_epoch(sink, users(0, 2))
            await sink.commit(saved)
            await write_epoch(sink, users(2, 4))  # precommitted, but no manifest was saved
            await sink.write(users(4, 6))  # buffered when the process dies
            await crash(sink)
            return saved

        saved = run(first_run)

        async def resumed() -> None:
            sink = await opened(db.sink(table), saved)
            assert db.staged() == 0
            await sink.commit(await write_epoch(sink, users(2, 6)))  # the replay
            await sink.aclose()

        run(resumed)
        assert db.rows(table) == users(0, 6)

    def test_resume_after_commit_writes_nothing_twice(self, db: Db) -> None:
        table = db.name("t")

        async def first_run() -> dict:
            sink = await opened(db.sink(table))
            saved = await write_epoch(sink, users(0, 3))
            await sink.commit(saved)
            await crash(sink)
            return saved

        saved = run(first_run)

        async def resumed() -> None:
            sink = await opened(db.sink(table), saved)
            await sink.commit(await write_epoch(sink, users(3, 4)))
            await sink.aclose()

        run(resumed)
        assert db.rows(table) == users(0, 4)

    def test_chunks_staged_past_the_checkpoint_are_dropped_on_resume(
        self, db: Db, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(sqltable, "STAGE_ROWS", 3)
        table = db.name("t")

        async def first_run() -> dict:
            sink = await opened(db.sink(table))
            saved = await write_epoch(sink, users(0, 4))
            for i in range(4, 14):  # stages chunks of 3 as it goes
                await sink.write(users(i, i + 1))
            assert db.staged() == 4 + 9
            await crash(sink)
            return saved

        saved = run(first_run)

        async def resumed() -> None:
            sink = await opened(db.sink(table), saved)
            assert db.rows(table) == users(0, 4)
            assert db.staged() == 0
            for i in range(4, 14):
                await sink.write(users(i, i + 1))
            await sink.commit(await sink.precommit())
            await sink.aclose()

        run(resumed)
        assert db.rows(table) == users(0, 14)
        assert db.staged() == 0

    def test_a_fresh_run_drops_what_its_sink_left_staged(self, db: Db) -> None:
        table = db.name("t")

        async def crashed() -> None:
            sink = await opened(db.sink(table))
            for i in range(3):
                await sink.commit(await write_epoch(sink, users(i, i + 1)))
            await write_epoch(sink, users(10, 12))
            await crash(sink)

        run(crashed)

        async def fresh() -> None:
            sink = db.sink(table)  # no restore: --fresh, or no checkpoint at all
            await sink.open()
            assert db.staged() == 0
            committed = await write_epoch(sink, users(3, 4))
            assert committed == {"epoch": 1}
            await sink.commit(committed)  # applied although an earlier run reached epoch 3
            await sink.aclose()

        run(fresh)
        assert db.rows(table) == users(0, 4)

    def test_aclose_without_commit_makes_nothing_visible(self, db: Db) -> None:
        table = db.name("t")

        async def failed() -> None:
            sink = await opened(db.sink(table))
            await write_epoch(sink, users(0, 3))
            await sink.aclose()

        run(failed)
        assert db.rows(table) == []

    def test_two_sinks_on_one_table_keep_apart(self, db: Db) -> None:
        table = db.name("t")

        async def main() -> None:
            a, b = db.sink(table, name="a"), db.sink(table, name="b")
            await a.open()
            await b.open()
            saved_b = await write_epoch(b, users(10, 12))
            await a.commit(await write_epoch(a, users(0, 2)))
            assert db.rows(table) == users(0, 2)
            await crash(b)  # b dies before its commit; a fresh `a` must not touch its rows
            fresh_a = db.sink(table, name="a")
            await fresh_a.open()
            resumed_b = db.sink(table, name="b")
            resumed_b.restore(saved_b)
            await resumed_b.open()
            for sink in (a, fresh_a, resumed_b):
                await sink.aclose()

        run(main)
        assert db.rows(table) == users(0, 2) + users(10, 12)
        assert db.staged() == 0

    def test_resuming_from_before_the_applied_epoch_is_refused(self, db: Db) -> None:
        table = db.name("t")

        async def main() -> None:
            sink = await opened(db.sink(table))
            old = await write_epoch(sink, users(0, 1))
            await sink.commit(await write_epoch(sink, users(1, 2)))
            await sink.aclose()
            stale = db.sink(table)
            stale.restore(old)
            with pytest.raises(ConnectorError, match="--fresh"):
                await stale.open()
            await stale.aclose()

        run(main)

    def test_created_table_takes_its_column_types_from_the_values(self, db: Db) -> None:
        table = db.name("t")
        records = [
            {
                "id": 1,
                "count": 3,
                "ratio": 0.5,
                "mixed": 1,
                "ok": True,
                "page": "/a",
                "tags": ["x"],
                "nothing": None,
            },
            {
                "id": 2,
                "count": 4,
                "ratio": 1.5,
                "mixed": 2.5,
                "ok": False,
                "page": "/b",
                "tags": None,
                "nothing": None,
            },
        ]

        async def main() -> None:
            sink = await opened(db.sink(table, key="id"))
            await sink.commit(await write_epoch(sink, records))
            await sink.aclose()

        run(main)
        types = db.columns(table)
        assert list(types) == ["id", "count", "ratio", "mixed", "ok", "page", "tags", "nothing"]
        assert self.type_names(types) == {
            "id": "int",
            "count": "int",
            "ratio": "float",
            "mixed": "float",
            "ok": "bool",
            "page": "str",
            "tags": "json",
            "nothing": "str",
        }
        loaded = run(db.table(table).load)
        assert loaded == {1: records[0], 2: records[1]}

    def type_names(self, types: dict[str, str]) -> dict[str, str]:
        raise NotImplementedError  # each database names its types

    def test_text_with_quotes_backslashes_and_line_breaks_is_kept(self, db: Db) -> None:
        table = db.name("t")
        texts = [
            "a\tb",
            "line\nbreak\r\n",
            "back\\slash \\n \\\\",
            "quote \" and ' ",
            "ünïcødé 😀",
            "",
            "\\.",
            'comma, "csv"',
        ]
        records = [{"id": i, "text": t, "nested": {"t": t}} for i, t in enumerate(texts)]

        async def main() -> None:
            sink = await opened(db.sink(table, key="id"))
            await sink.commit(await write_epoch(sink, records))
            await sink.aclose()

        run(main)
        assert run(db.table(table).load) == {r["id"]: r for r in records}

    def test_existing_table_is_written_in_its_own_columns(self, db: Db) -> None:
        table = db.name("t")
        db.execute(
            f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, name TEXT, "
            "n BIGINT DEFAULT 7, note TEXT)"
        )

        async def main() -> None:
            sink = await opened(db.sink(table, key="id"))
            await sink.commit(
                await write_epoch(
                    sink, [{"id": 1, "name": "a"}, {"id": 2, "name": "b", "note": "x"}]
                )
            )
            await sink.aclose()

        run(main)
        assert db.rows(table) == [
            {"id": 1, "name": "a", "n": 7, "note": None},
            {"id": 2, "name": "b", "n": 7, "note": "x"},
        ]

    def test_a_field_the_table_lacks_stops_the_sink_naming_it(self, db: Db) -> None:
        table = db.name("t")
        db.execute(f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, name TEXT)")

        async def main() -> None:
            sink = await opened(db.sink(table))
            with pytest.raises(ConnectorError) as caught:
                await sink.write([{"id": 1, "name": "a", "email": "a@b"}])
            await sink.aclose()
            message = str(caught.value)
            assert "sink `out`" in message and "no column `email`" in message
            assert table in message

        run(main)
        assert db.staged() == 0

    def test_a_record_without_its_key_stops_the_sink(self, db: Db) -> None:
        async def main() -> None:
            sink = await opened(db.sink(db.name("t"), key="id"))
            with pytest.raises(ConnectorError, match="record without `id`"):
                await sink.write([{"id": 1}, {"name": "no id"}])
            await sink.aclose()

        run(main)

    def test_upsert_needs_a_unique_key_on_an_existing_table(self, db: Db) -> None:
        table = db.name("t")
        db.execute(f"CREATE TABLE {table} (id BIGINT, name TEXT)")

        async def main() -> None:
            sink = db.sink(table, key="id")
            with pytest.raises(ConnectorError, match="no primary key or unique constraint"):
                await sink.open()
            await sink.aclose()
            other = db.sink(table, key="email")
            with pytest.raises(ConnectorError, match="no column `email`"):
                await other.open()
            await other.aclose()

        run(main)

    def test_upsert_works_with_a_unique_constraint(self, db: Db) -> None:
        table = db.name("t")
        db.execute(f"CREATE TABLE {table} (id BIGINT, email TEXT UNIQUE, n BIGINT)")

        async def main() -> None:
            sink = await opened(db.sink(table, key="email"))
            await sink.commit(
                await write_epoch(
                    sink, [{"id": 1, "email": "a", "n": 1}, {"id": 2, "email": "a", "n": 2}]
                )
            )
            await sink.aclose()

        run(main)
        assert db.rows(table) == [{"id": 2, "email": "a", "n": 2}]

    def test_a_value_the_column_refuses_fails_the_commit_and_stays_staged(self, db: Db) -> None:
        table = db.name("t")
        db.execute(f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)")

        async def main() -> None:
            sink = await opened(db.sink(table))
            committed = await write_epoch(sink, [{"id": 1, "n": None}])
            with pytest.raises(ConnectorError, match="rows stay staged"):
                await sink.commit(committed)
            await sink.aclose()
            assert db.staged() == 1

        run(main)
        assert db.rows(table) == []

    def test_table_loads_rows_by_key(self, db: Db) -> None:
        table = db.name("t")
        db.execute(f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, name TEXT, n BIGINT)")
        db.execute(f"INSERT INTO {table} VALUES (1, 'a', 10), (2, 'b', NULL)")
        assert run(db.table(table).load) == {
            1: {"id": 1, "name": "a", "n": 10},
            2: {"id": 2, "name": "b", "n": None},
        }
        by_name = run(db.table(table, key="name").load)
        assert set(by_name) == {"a", "b"}

    def test_table_that_is_missing_or_lacks_its_key_is_one_clear_error(self, db: Db) -> None:
        table, other = db.name("t"), db.name("other")
        db.execute(f"CREATE TABLE {other} (id BIGINT)")  # the database exists, not the table
        with pytest.raises(ConnectorError, match=f"table `users`: no table `{table}`"):
            run(db.table(table).load)
        db.execute(f"CREATE TABLE {table} (name TEXT)")
        with pytest.raises(ConnectorError, match="has no column `id`"):
            run(db.table(table).load)
