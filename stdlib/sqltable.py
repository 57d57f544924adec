"""What the `postgres` and `sqlite` connectors share: an exactly-once sink that stages each
checkpoint's rows in the database and moves them into the target table when the checkpoint
commits, and a lookup table loaded whole. Each database module (postgres.py, sqlite.py) supplies
a `Database`: the SQL and the connection; this module owns the protocol with the runtime.

How a sink's output stays exactly-once (runtime/connector.py has the call order):

- Records are written in *epochs*, one per checkpoint: `write()` buffers them and stages every
  `STAGE_ROWS` into `_rillet_staged` (a committed transaction each, nothing visible yet);
  `precommit()` stages the rest and returns `{"epoch": n}`, the epoch now durable.
- `commit({"epoch": n})`, after the checkpoint's manifest is saved, runs one transaction that
  moves every staged row of epochs up to n into the target (plain INSERT, or an upsert on `key`
  keeping the last row of each key), deletes them from staging, and records n as applied in
  `_rillet_commits`. It is idempotent: an epoch already applied is not applied again.
- `restore({"epoch": n})` then `open()` (a resumed run): staged epochs up to n that the crash
  kept from being applied are applied now; staged epochs after n were never part of a saved
  checkpoint and are deleted; epochs go on from n + 1. A fresh run (no `restore`) deletes whatever
  its sink left staged and starts again at epoch 1.

A sink is identified by its name in the pipeline and its target table; two sinks (or pipelines)
writing one table under different names never touch each other's staging.

Staging a chunk deletes the chunk's rows first, so a retried transaction whose COMMIT reached
the server before the connection broke stages nothing twice. Operations on a database that went
away are retried with backoff (`retry.py`) for up to `retry_s`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

from rillet.runtime.plugin import Committing, ConnectorError, SinkContext, Transactional

from .retry import Backoff
from .tablekeys import Key, key_fields

log = logging.getLogger(__name__)

STAGE_ROWS = 10_000
"""Rows buffered by a sink before they are staged: what bounds its memory between checkpoints."""
RECORD_SHOWN_CHARS = 200

Category = Literal["int", "float", "bool", "str", "json"]
"""What a column created from records holds; each database names its own SQL type for it."""

T = TypeVar("T")


class Database(Protocol):
    """One connection to a database, for one target table. Every method that changes data is one
    transaction; none is called while another runs."""

    where: str
    """The database as messages show it: a url without its password, or a path."""
    table: str
    opening: str
    """What `connect` does, as failures say it: "connect to", "open"."""
    hint: str
    """What to check when connecting fails."""

    def owns(self, error: BaseException) -> bool:
        """An error raised by the database (anything else is a bug, and keeps its traceback)."""

    def transient(self, error: BaseException) -> bool:
        """An error worth retrying after a pause (the server went away, a lock was busy)."""

    def reason(self, error: BaseException) -> str:
        """An error of the database in a few words, on one line."""

    async def connect(self) -> None: ...

    async def disconnect(self) -> None:
        """Drop the connection, broken or not; `connect` makes a new one."""

    def lost(self) -> bool:
        """After a transient error: whether the connection is gone (a new one is needed)."""

    async def register(self, sink: str) -> tuple[int, int]:
        """Create the bookkeeping tables if needed; the id of `sink` for this target and the
        last epoch applied to it (0 when none)."""

    async def columns(self) -> dict[str, str] | None:
        """The target's columns and their SQL types, in table order; None when it is missing."""

    async def create(self, columns: dict[str, Category], key: tuple[str, ...]) -> None:
        """Create the target (if still missing), with a primary key on `key`'s fields when
        there are any."""

    async def check_key(self, key: tuple[str, ...]) -> bool:
        """Whether the target has a primary key or unique constraint on exactly `key`'s
        fields (in any order)."""

    async def stage(
        self, sink_id: int, epoch: int, chunk: int, rows: list[dict], fields: list[str]
    ) -> None:
        """Replace staged chunk `chunk` of `epoch` with `rows`, whose fields are `fields`, in
        one transaction."""

    async def apply(self, sink_id: int, epoch: int, key: tuple[str, ...]) -> int:
        """Move the staged rows of epochs up to `epoch` not applied yet into the target, delete
        them from staging and record `epoch` as applied, in one transaction; return the epoch
        that was applied before (nothing is done when it is `epoch` or later)."""

    async def discard(self, sink_id: int, after: int) -> None:
        """Delete the staged rows of epochs after `after`; with `after` 0 the sink starts over
        and its applied epoch goes back to 0."""

    async def load(self, key: str) -> dict[object, dict]: ...


def hidden_password(url: str) -> str:
    """`url` fit to show: without its password (as a URL or a libpq `key=value` string)."""
    if "://" not in url:
        return re.sub(r"password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)\s*", "", url).strip()
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}@{host}"
    query = "&".join(p for p in parts.query.split("&") if p and not p.startswith("password="))
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def sink_identity(context: SinkContext) -> str:
    """What tells this sink's staged rows and applied epoch from those of other sinks writing
    the same table: its name in the pipeline, qualified by the pipeline's name and the worker's
    number when the runtime provides them."""
    parts = [getattr(context, "pipeline", None), context.name, getattr(context, "worker", None)]
    return "/".join(str(p) for p in parts if p is not None and p != "")


def category(values: list[Any]) -> Category:
    """The kind of column that holds all of `values` (nulls aside): a mix of ints and floats is
    float, any other mix json; a column of nulls alone is str."""
    kinds = {_KINDS.get(type(v), "json") for v in values if v is not None}
    if not kinds:
        return "str"
    if len(kinds) == 1:
        return kinds.pop()
    return "float" if kinds == {"int", "float"} else "json"


_KINDS: dict[type, Category] = {bool: "bool", int: "int", float: "float", str: "str"}


def infer_columns(rows: list[dict]) -> dict[str, Category]:
    """Columns for a new table: every field of `rows` in order of first appearance."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    return {name: category([row.get(name) for row in rows]) for name in names}


def _listed(fields: tuple[str, ...]) -> str:
    """`a` or `(a, b)`, as messages name a key."""
    names = ", ".join(f"`{f}`" for f in fields)
    return names if len(fields) == 1 else f"({names})"


def shown(record: dict) -> str:
    text = repr(record)
    return text if len(text) <= RECORD_SHOWN_CHARS else text[:RECORD_SHOWN_CHARS] + "…"


class SqlSink(Committing, Transactional):
    """An exactly-once sink into one table (the lifecycle is the module's docstring)."""

    def __init__(self, database: Database, context: SinkContext, key: Key, retry_s: float) -> None:
        self.database = database
        self.name = context.name
        self.clock = context.clock
        self.identity = sink_identity(context)
        self.key = key_fields(key)
        self.retry_s = retry_s
        self.resume_epoch: int | None = None
        self.sink_id = 0
        self.epoch = 1  # the epoch being written
        self.chunk = 0  # chunks of it staged so far
        self.unapplied: list[int] = []  # epochs with rows staged by this run, not yet applied
        self.columns: set[str] | None = None
        self.buffer: list[dict] = []
        self.connected = False

    def _error(self, what: str) -> ConnectorError:
        return ConnectorError(f"sink `{self.name}`: {what}")

    def restore(self, committed: dict) -> None:
        self.resume_epoch = int(committed["epoch"])

    async def open(self) -> None:
        db = self.database
        try:
            await db.connect()
        except Exception as e:
            if not db.owns(e):
                raise
            raise self._error(f"cannot {db.opening} {db.where}: {db.reason(e)} ({db.hint})") from e
        self.connected = True
        self.sink_id, applied = await self._retrying("open", lambda: db.register(self.identity))
        await self._read_columns()
        resume = self.resume_epoch
        if resume is None:
            await self._retrying("start over", lambda: db.discard(self.sink_id, 0))
            self.epoch = 1
            return
        if applied > resume and self.key:
            # rows of later epochs are in the table (a rerun going on from before the end of
            # input fired): written again, they replace themselves
            log.info("sink `%s`: upserting again after epoch %d", self.name, resume)
            resume = applied
        elif applied > resume:
            raise self._error(
                f"table `{db.table}` already holds this sink's rows up to epoch {applied}, past "
                f"the checkpoint being resumed (epoch {resume}): resuming would write rows "
                "twice\n  hint: run with --fresh to start over, or give the sink a `key`, so "
                "that rows written again replace themselves"
            )
        if applied < resume:  # the run stopped between saving the checkpoint and committing
            await self._apply(resume)
        await self._retrying("roll back", lambda: db.discard(self.sink_id, resume))
        self.epoch = resume + 1

    async def _read_columns(self) -> None:
        columns = await self._retrying("read the table", self.database.columns)
        self.columns = None if columns is None else set(columns)
        key = self.key
        if columns is not None and key:
            absent = [f for f in key if f not in columns]
            if absent:
                raise self._error(
                    f"table `{self.database.table}` has no column `{absent[0]}` "
                    "(of the `key` to upsert on)"
                )
            if not await self._retrying("read the table", lambda: self.database.check_key(key)):
                raise self._error(
                    f"table `{self.database.table}` has no primary key or unique "
                    f"constraint on {_listed(key)} alone, which upserts need\n  "
                    f"hint: add one, or leave out `key` to append"
                )

    async def write(self, records: list[dict]) -> None:
        columns, key = self.columns, self.key
        for record in records:
            if columns is not None and not record.keys() <= columns:
                extra = ", ".join(f"`{f}`" for f in record if f not in columns)
                raise self._error(
                    f"table `{self.database.table}` has no column {extra}, found in record "
                    f"{shown(record)}\n  hint: add the column to the table, or drop or rename "
                    "the field before `into`"
                )
            absent = next((f for f in key if record.get(f) is None), None)
            if absent is not None:
                raise self._error(
                    f"record without `{absent}` (of the key of table "
                    f"`{self.database.table}`): {shown(record)}"
                )
        self.buffer += records
        if len(self.buffer) >= STAGE_ROWS:
            await self._stage()

    async def _stage(self) -> None:
        rows, self.buffer = self.buffer, []
        if not rows:
            return
        if self.columns is None:
            inferred = infer_columns(rows)
            await self._retrying(
                "create the table", lambda: self.database.create(inferred, self.key)
            )
            await self._read_columns()
        epoch, chunk = self.epoch, self.chunk
        fields = sorted(set().union(*rows))
        await self._retrying(
            "stage rows", lambda: self.database.stage(self.sink_id, epoch, chunk, rows, fields)
        )
        self.chunk += 1
        if not self.unapplied or self.unapplied[-1] != epoch:
            self.unapplied.append(epoch)

    async def precommit(self) -> dict:
        """Stage what is buffered: the epoch is durable, not yet in the table."""
        await self._stage()
        epoch = self.epoch
        self.epoch, self.chunk = epoch + 1, 0
        return {"epoch": epoch}

    async def commit(self, committed: dict) -> None:
        """Move the rows of every epoch up to this one into the table (no transaction at all
        when none was staged: the applied epoch recorded in the database may lag behind, and
        `open` catches it up)."""
        epoch = int(committed["epoch"])
        if not self.unapplied or self.unapplied[0] > epoch:
            return
        await self._apply(epoch)
        self.unapplied = [e for e in self.unapplied if e > epoch]

    async def _apply(self, epoch: int) -> None:
        await self._retrying(
            "commit rows",
            lambda: self.database.apply(self.sink_id, epoch, self.key),
            note=" (the rows stay staged: once the table takes "
            "them, `rillet run` applies them; --fresh drops them)",
        )

    async def _retrying(
        self, what: str, operation: Callable[[], Awaitable[T]], note: str = ""
    ) -> T:
        """Run `operation`; while the database fails transiently, reconnect and run it again."""
        db = self.database
        retry = Backoff(self.clock, self.retry_s)
        while True:
            try:
                if self.connected and db.lost():  # closed by a cancelled call, say
                    await db.disconnect()
                    self.connected = False
                if not self.connected:
                    await db.connect()
                    self.connected = True
                    log.info("sink `%s`: connected to %s again", self.name, db.where)
                return await operation()
            except Exception as e:
                if not db.owns(e):
                    raise
                if not db.transient(e):
                    raise self._error(
                        f"cannot {what} in table `{db.table}` of {db.where}: {db.reason(e)}{note}"
                    ) from e
                first = not retry.retrying
                delay = retry.next_delay()
                if delay is None:
                    raise self._error(
                        f"cannot {what} in {db.where}: {db.reason(e)} (gave up "
                        f"after retrying for {self.retry_s:g} s){note}"
                    ) from e
                if first:
                    log.warning(
                        "sink `%s`: %s: %s; retrying for up to %g s",
                        self.name,
                        db.where,
                        db.reason(e),
                        self.retry_s,
                    )
                if self.connected and db.lost():
                    await db.disconnect()
                    self.connected = False
                await self.clock.sleep(delay)

    async def aclose(self) -> None:
        """Close the connection; what was not committed stays staged for a resumed run."""
        self.buffer = []
        if self.connected:
            self.connected = False
            await self.database.disconnect()


async def load_table(database: Database, name: str, key: str) -> dict[object, dict]:
    """A lookup table's rows by `key`, read whole; a database that cannot be read stops the run
    with one line."""
    try:
        await database.connect()
    except Exception as e:
        if not database.owns(e):
            raise
        raise ConnectorError(
            f"table `{name}`: cannot {database.opening} {database.where}: "
            f"{database.reason(e)} ({database.hint})"
        ) from e
    try:
        columns = await database.columns()
        if columns is None:
            raise ConnectorError(f"table `{name}`: no table `{database.table}` in {database.where}")
        if key not in columns:
            raise ConnectorError(
                f"table `{name}`: table `{database.table}` has no column `{key}` (the `key`)"
            )
        return await database.load(key)
    except ConnectorError:
        raise
    except Exception as e:
        if not database.owns(e):
            raise
        raise ConnectorError(
            f"table `{name}`: cannot read table `{database.table}` of "
            f"{database.where}: {database.reason(e)}"
        ) from e
    finally:
        await database.disconnect()
