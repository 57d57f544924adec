"""Sources, sinks and lookup tables as Flink tables: file (jsonl, csv) and the Kafka connector.

A source becomes a `CREATE TEMPORARY TABLE` with its schema's columns; event time, when a
downstream `event_time` declares it, becomes a computed `__rt` column with the watermark
"newest time minus the lateness": on a Kafka table, and on a file's rows read in one task
(`onereader.py`) for a file. A csv file is read as text columns in its header's order
(Flink's csv format matches columns by position and has no header option) and cast in a view
that leaves the header row out. A lookup table is read when the job is built and compiled into
`CASE` expressions: exact, append-only and stateless on Flink, for tables up to
`MAX_LOOKUP_ROWS`. Read next: `translate.py`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rillet.runtime.plan import FieldSpec, SchemaSpec, Sink, Source, Table, TypeSpec

from .globs import MAGIC, glob_options
from .onereader import OneReaderStep
from .sqlexpr import Unmappable, ident, literal

ROWTIME = "__rt"
MAX_LOOKUP_ROWS = 10_000
"""A larger lookup table would make the generated SQL too large to plan: it is not mapped."""

_SQL_TYPES = {"int": "BIGINT", "float": "DOUBLE", "str": "STRING", "bool": "BOOLEAN"}
KAFKA_JAR = "flink-sql-connector-kafka (4.x for Flink 2.x)"


def sql_type(spec: TypeSpec) -> str:
    if spec.name in _SQL_TYPES:
        return _SQL_TYPES[spec.name]
    if spec.name == "list" and spec.item is not None:
        return f"ARRAY<{sql_type(spec.item)}>"
    raise Unmappable(f"a `{spec.name}` field has no Flink column type here")


def interval(ms: int) -> str:
    days, rest = divmod(ms, 86_400_000)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    text = f"{days} {hours:02}:{minutes:02}:{seconds:02}.{millis:03}"
    return f"INTERVAL '{text}' DAY TO SECOND(3)"


def _path(config: dict, base_dir: str, globs: bool = False) -> str:
    path = str(config["path"])
    if MAGIC & set(path) and not globs:
        raise Unmappable("a glob path here: Flink's filesystem table reads a file or a folder")
    if config.get("compression", "auto") not in ("auto", "none") or path.endswith((".gz", ".zst")):
        raise Unmappable("a compressed file: Flink's filesystem table reads plain text here")
    return str((Path(base_dir) / path).resolve())


def _file_options(path: str) -> dict[str, str]:
    options = glob_options(path) if MAGIC & set(path) else {"path": path}
    return {"connector": "filesystem"} | options


def _with(options: dict[str, str]) -> str:
    return ", ".join(f"{literal(k)} = {literal(v)}" for k, v in options.items())


@dataclass(frozen=True)
class EventTimeSpec:
    field: str
    lateness_ms: int


def source_table(
    node_id: int, source: Source, base_dir: str, event_time: EventTimeSpec | None
) -> tuple[list[str | OneReaderStep], str, list[str]]:
    """The statements declaring `source`, the name to select from, and its columns."""
    if source.connector not in ("file", "kafka"):
        raise Unmappable(f"the `{source.connector}` source has no Flink table")
    if source.schema is None:
        raise Unmappable("a source without a schema: a Flink table needs its columns' types")
    if source.then:
        raise Unmappable("a hybrid source (`then`): a Flink table reads one connector")
    config = source.config
    columns = [f.name for f in source.schema.fields]
    fmt = config.get("format", "jsonl")
    if source.connector == "file" and config.get("follow"):
        raise Unmappable("`follow=true`: Flink's filesystem table here reads a file once")
    if fmt == "csv":
        return _csv_source(node_id, source, base_dir, event_time), f"s{node_id}", columns
    if fmt != "jsonl":
        raise Unmappable(f"the `{fmt}` format has no Flink table format here")
    body = [f"{ident(f.name)} {sql_type(f.type)}" for f in source.schema.fields]
    json_format = {"format": "json", "json.ignore-parse-errors": "true"}
    if source.connector == "kafka":
        body += _kafka_rowtime(event_time, ident)  # partitions: no file order to keep
        options = _kafka_source_options(config) | json_format
        ddl = f"CREATE TEMPORARY TABLE s{node_id} ({', '.join(body)}) WITH ({_with(options)})"
        return [ddl], f"s{node_id}", columns
    options = _file_options(_path(config, base_dir, globs=True)) | json_format
    table = f"f{node_id}" if event_time else f"s{node_id}"
    ddl = f"CREATE TEMPORARY TABLE {table} ({', '.join(body)}) WITH ({_with(options)})"
    return [ddl, *_one_reader(f"s{node_id}", table, event_time, ident)], f"s{node_id}", columns


def _one_reader(
    view: str, table: str, event_time: EventTimeSpec | None, column
) -> list[OneReaderStep]:
    """A file source's event time: declared on its rows read in one task (onereader.py)."""
    if event_time is None:
        return []
    rowtime, watermark = _rowtime(event_time, column)
    return [OneReaderStep(view, table, ROWTIME, rowtime, watermark)]


def _rowtime(event_time: EventTimeSpec | None, column) -> list[str]:
    """The rowtime's expression and its watermark's, or nothing without event time."""
    if event_time is None:
        return []
    return [
        f"TO_TIMESTAMP_LTZ({column(event_time.field)}, 3)",
        # Flink closes a window once the watermark reaches its end - 1 ms; rillet once the
        # newest time minus the lateness reaches its end: hence 1 ms more
        f"{ROWTIME} - {interval(event_time.lateness_ms + 1)}",
    ]


def _kafka_rowtime(event_time: EventTimeSpec | None, column) -> list[str]:
    """The rowtime and watermark declared on a Kafka table."""
    if event_time is None:
        return []
    rowtime, watermark = _rowtime(event_time, column)
    return [f"{ROWTIME} AS {rowtime}", f"WATERMARK FOR {ROWTIME} AS {watermark}"]


def _header(path: str, delimiter: str) -> list[str]:
    with open(path, newline="") as f:
        return next(csv.reader(f, delimiter=delimiter))


def _csv_source(
    node_id: int, source: Source, base_dir: str, event_time: EventTimeSpec | None
) -> list[str | OneReaderStep]:
    assert source.schema is not None
    config = source.config
    if not config.get("header", True) or source.connector != "file":
        raise Unmappable("a csv source without a header row has no column names for Flink")
    path, delimiter = _path(config, base_dir), str(config.get("delimiter", ","))
    header = _header(path, delimiter)
    types = {f.name: sql_type(f.type) for f in source.schema.fields}
    raw = [f"{ident(name)} STRING" for name in header]
    timed = _one_reader(f"q{node_id}", f"r{node_id}", event_time, _csv_number)
    options = {
        "connector": "filesystem",
        "path": path,
        "format": "csv",
        "csv.field-delimiter": delimiter,
    }
    not_header = " OR ".join(f"{ident(n)} IS DISTINCT FROM {literal(n)}" for n in header)
    optional = {f.name for f in source.schema.fields if f.type.optional}
    casts = [
        f"TRY_CAST({_empty_as_null(f, f in optional)} AS {t}) AS {ident(f)}"
        if f in header
        else f"NULL AS {ident(f)}"
        for f, t in types.items()
    ] + ([ROWTIME] if event_time else [])
    return [
        f"CREATE TEMPORARY TABLE r{node_id} ({', '.join(raw)}) WITH ({_with(options)})",
        *timed,
        f"CREATE TEMPORARY VIEW s{node_id} AS SELECT {', '.join(casts)} "
        f"FROM {'q' if timed else 'r'}{node_id} WHERE {not_header}",
    ]


def _csv_number(name: str) -> str:
    return f"TRY_CAST({ident(name)} AS BIGINT)"


def _empty_as_null(name: str, optional: bool) -> str:
    """An empty csv value of an optional field reads as null in rillet (§9.2)."""
    return f"NULLIF({ident(name)}, '')" if optional else ident(name)


def _kafka_options(config: dict) -> dict[str, str]:
    """The Kafka table's options shared by a source and a sink."""
    return {
        "connector": "kafka",
        "topic": str(config["topic"]),
        "properties.bootstrap.servers": str(config.get("brokers", "localhost:9092")),
    }


def _kafka_source_options(config: dict) -> dict[str, str]:
    """Where a rillet kafka source starts: the group's committed offset, else `from` (Flink's
    `group-offsets` with `auto.offset.reset`); a time has no such fallback in Flink, so it is
    `timestamp` mode, which ignores committed offsets. `until_empty` is a bounded scan."""
    if config.get("format", "jsonl") != "jsonl" or config.get("metadata"):
        raise Unmappable('a kafka source with `format="lines"` or `metadata=true`')
    options = _kafka_options(config) | {"properties.group.id": str(config.get("group", "rillet"))}
    start = str(config.get("from", "earliest"))
    if start in ("earliest", "latest"):
        options["scan.startup.mode"] = "group-offsets"
        options["properties.auto.offset.reset"] = start
    else:
        options["scan.startup.mode"] = "timestamp"
        options["scan.startup.timestamp-millis"] = str(_epoch_ms(start))
    if config.get("until_empty"):
        options["scan.bounded.mode"] = "latest-offset"
    return options


def _epoch_ms(iso: str) -> int:
    """An ISO-8601 time as epoch ms, UTC when it names no zone (as rillet reads `from`)."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class SinkTable:
    """Where a sink's rows go: `options` are the Flink table's, `path` a file sink's target."""

    name: str
    options: dict[str, str]
    path: str | None
    header: tuple[str, ...] | None = None
    """A csv sink's header row, which a local run writes before the rows (`csvsink.py`)."""
    delimiter: str = ","


def sink_table(sink: Sink, base_dir: str, columns: Iterable[str] = ()) -> SinkTable:
    config = sink.config
    if sink.connector == "kafka":
        options = _kafka_options(config) | {"format": "json"}
        if config.get("key") is not None:  # the key's text: Flink's raw format of a str field
            options |= {"key.format": "raw", "key.fields": str(config["key"])}
        return SinkTable(sink.name, options, None)
    if sink.connector != "file":
        raise Unmappable(f"the `{sink.connector}` sink has no Flink table")
    fmt = config.get("format", "jsonl")
    if fmt not in ("jsonl", "csv"):
        raise Unmappable(f"the `{fmt}` sink format is not translated yet (jsonl and csv are)")
    path = _path(config, base_dir)
    if fmt == "csv":
        from .csvsink import csv_sink_table

        return csv_sink_table(sink, path, list(columns))
    return SinkTable(sink.name, {"connector": "filesystem", "path": path, "format": "json"}, path)


def lookup_columns(table: Table, on_sql: str, base_dir: str) -> dict[str, str]:
    """Each of the table's fields but its key as a `CASE` over the record's `on` value."""
    config, schema = table.config, table.schema
    if table.connector != "file" or schema is None:
        raise Unmappable("a lookup table that is not a file with a schema")
    key, path = str(config.get("key", "id")), _path(config, base_dir)
    as_text = config.get("format", "jsonl") == "csv"
    rows = _csv_rows(path, config) if as_text else _jsonl_rows(path)
    if len(rows) > MAX_LOOKUP_ROWS:
        raise Unmappable(f"a lookup table over {MAX_LOOKUP_ROWS:,} rows (`{table.name}`)")
    probe = f"CAST({on_sql} AS STRING)" if as_text else on_sql
    return {f.name: _case(probe, rows, key, f, as_text) for f in schema.fields if f.name != key}


def _case(probe: str, rows: list[dict], key: str, spec: FieldSpec, as_text: bool) -> str:
    """An empty csv value of an optional field is null, as rillet reads it (§9.2)."""
    field, typ = spec.name, sql_type(spec.type)
    last = {row.get(key): row for row in rows}  # a later row of a key wins, as in rillet
    arms = []
    for k, row in last.items():
        if k is None:
            continue
        value = row.get(field)
        if as_text and value == "" and spec.type.optional:
            value = None
        sql = f"TRY_CAST({literal(value)} AS {typ})" if as_text else literal(value)
        arms.append(f"WHEN {literal(k)} THEN {sql}")
    if not arms:
        return f"CAST(NULL AS {typ})"
    return f"CAST(CASE {probe} {' '.join(arms)} ELSE NULL END AS {typ})"


def _csv_rows(path: str, config: dict) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter=str(config.get("delimiter", ","))))


def _jsonl_rows(path: str) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def schema_fields(schema: SchemaSpec | None) -> list[str]:
    return [] if schema is None else [f.name for f in schema.fields]
