"""The `postgres` connector: an exactly-once sink (appends, or upserts with `key`) and a lookup
table, on PostgreSQL through psycopg 3 (async).

The protocol with the runtime (staging per checkpoint epoch, then one moving transaction per
commit) is in sqltable.py; this module is its SQL. Staged rows are sent with COPY, as JSON text
(one `jsonb` value per row), and moved server-side: `INSERT ... SELECT` from
`jsonb_populate_record(NULL::target, row)`, which converts each field to its column's type, so
the rows never travel twice. The fields of each staged chunk are kept beside it
(`_rillet_chunks`), so the move names its columns without reading every row twice. With `key`,
`DISTINCT ON (key)` keeps the last row of each key and `ON CONFLICT (key) DO UPDATE` replaces the
stored one.
"""

from __future__ import annotations

import msgspec

from rillet.runtime.plugin import Plugin, SinkContext, SourceContext

from .extras import POSTGRES
from .sqltable import SqlSink, load_table
from .tablekeys import Key, check_fields

plugin = Plugin("std")


class PostgresSinkConfig(msgspec.Struct, forbid_unknown_fields=True):
    url: str
    table: str
    key: Key = None
    """The field, or list of fields, a record replaces the row of (upsert); none appends."""
    retry_timeout: int = 60_000
    """A duration (ms): how long a lost server is retried before the run stops."""

    def __post_init__(self) -> None:
        check_fields("key", self.key)


class PostgresTableConfig(msgspec.Struct, forbid_unknown_fields=True):
    url: str
    table: str
    key: str = "id"


@plugin.sink("postgres", config=PostgresSinkConfig, delivery="exactly-once", needs=POSTGRES)
class PostgresSink(SqlSink):
    """Writes records to a PostgreSQL table, creating it from the first records' fields when it is
    missing; with `key`, a record replaces the row with its key (upsert). Exactly-once with
    checkpoints: a checkpoint's rows become visible in one transaction once it is saved."""

    def __init__(self, config: PostgresSinkConfig, context: SinkContext) -> None:
        self.config = config
        from .postgres_database import PostgresDatabase  # psycopg: only for the runs using it

        super().__init__(
            PostgresDatabase(config.url, config.table),
            context,
            config.key,
            config.retry_timeout / 1000,
        )


@plugin.table("postgres", config=PostgresTableConfig, needs=POSTGRES)
class PostgresTable:
    """A lookup table loaded whole from a PostgreSQL table, keyed by `key`."""

    def __init__(self, config: PostgresTableConfig, context: SourceContext) -> None:
        self.config = config
        self.context = context

    async def load(self) -> dict[object, dict]:
        from .postgres_database import PostgresDatabase

        database = PostgresDatabase(self.config.url, self.config.table)
        return await load_table(database, self.context.name, self.config.key)
