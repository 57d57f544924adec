"""Records as Arrow tables, for the `parquet` and `delta` sinks: imported only by the runs that
use them (pyarrow is the `rillet[parquet]` extra, and comes with `rillet[delta]`).

A sink's columns are those of the first records it writes, in the types the checker knows for
them (`SinkContext.schema`: int64, double, string, bool, lists of them), others inferred from
the values (lists and structs too); later records keep them, a field first seen later adds a
column, a column first seen all null takes the type of the values that come, and an int column
that meets floats becomes double (`pa.unify_schemas`, permissive): a file
written later may have more columns, or wider ones, than one written before; readers unify them
(`pyarrow.dataset`, DuckDB's `union_by_name`).
"""

from __future__ import annotations

import pyarrow as pa

from rillet.runtime.plugin import ConnectorError, SchemaSpec, TypeSpec

SHOWN_CHARS = 200


def declared_types(spec: SchemaSpec | None) -> dict[str, pa.DataType]:
    """The Arrow type of each field the records' type declares as a scalar or a list of them
    (`any` and records are left to the values)."""
    found = {f.name: _arrow_type(f.type) for f in spec.fields} if spec is not None else {}
    return {name: t for name, t in found.items() if t is not None}


def _arrow_type(spec: TypeSpec) -> pa.DataType | None:
    if spec.name == "list":
        item = _arrow_type(spec.item) if spec.item is not None else None
        return None if item is None else pa.list_(item)
    return _SCALARS.get(spec.name)


_SCALARS = {"int": pa.int64(), "float": pa.float64(), "str": pa.string(), "bool": pa.bool_()}


def to_table(
    rows: list[dict], schema: pa.Schema | None, sink: str, declared: dict[str, pa.DataType]
) -> pa.Table:
    """`rows` as a table in `schema` widened by their new fields (the first rows: in the types
    `declared`, and those of their values for other fields); a value that does not fit its
    column stops the run with one line naming the sink."""
    try:
        inferred = pa.Table.from_pylist(rows)
        if schema is None:
            fields = [pa.field(f.name, declared.get(f.name, f.type)) for f in inferred.schema]
            absent = [pa.field(n, t) for n, t in declared.items() if n not in inferred.schema.names]
            return pa.Table.from_pylist(rows, schema=pa.schema(fields + absent))
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
