"""Records as Arrow tables, for the `parquet` and `delta` sinks: imported only by the runs that
use them (pyarrow is the `rillet[parquet]` extra, and comes with `rillet[delta]`).

A sink's columns are those of the first records it writes, their types inferred from the values
(int64, double, string, bool, lists and structs); later records keep them, a field first seen
later adds a column, and a column first seen all null takes the type of the values that come
and an int column that meets floats becomes double (`pa.unify_schemas`, permissive): a file
written later may have more columns, or wider ones, than one written before; readers unify them
(`pyarrow.dataset`, DuckDB's `union_by_name`).
"""

from __future__ import annotations

import pyarrow as pa

from rillet.runtime.plugin import ConnectorError

SHOWN_CHARS = 200


def to_table(rows: list[dict], schema: pa.Schema | None, sink: str) -> pa.Table:
    """`rows` as a table in `schema` widened by their new fields; a value that does not fit its
    column stops the run with one line naming the sink."""
    try:
        inferred = pa.Table.from_pylist(rows)
        if schema is None:
            return inferred
        merged = pa.unify_schemas([schema, inferred.schema], promote_options="permissive")
        return pa.Table.from_pylist(rows, schema=merged)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
        reason = str(e).splitlines()[0][:SHOWN_CHARS]
        raise ConnectorError(
            f"sink `{sink}`: records whose fields do not keep one type each: {reason}\n  hint: "
            "`derive` the field with one type (say `int(x)` or `str(x)`) before `into`"
        ) from e


def encoded(schema: pa.Schema | None) -> bytes | None:
    """`schema` as bytes a checkpoint keeps (Arrow's own IPC encoding)."""
    return None if schema is None else schema.serialize().to_pybytes()


def decoded(data: bytes | None) -> pa.Schema | None:
    return None if data is None else pa.ipc.read_schema(pa.py_buffer(data))


def last_of_each(rows: pa.Table, key: tuple[str, ...]) -> pa.Table:
    """The last row of each key (a merge takes one source row per target row)."""
    keys = [tuple(values) for values in zip(*(rows.column(f).to_pylist() for f in key))]
    last = {k: i for i, k in enumerate(keys)}
    return rows.take(sorted(last.values()))


def shown(record: dict) -> str:
    text = repr(record)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"
