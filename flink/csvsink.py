"""A `file` sink with `format="csv"` as Flink's csv format, written as rillet writes csv.

rillet's header is the first record's fields, which on Flink are the view's columns in order;
Flink's csv format writes no header, so `run` writes it before the gathered part files (an
exported job's folder holds the rows alone). Values are written as rillet writes them: null
empty, bools `true`/`false`, ints as they are, and text, floats and lists through rillet's
own writing and quoting (a Python UDF): Java writes `1.0E7` where Python writes `10000000.0`,
and Flink's writer (Jackson) quotes any value holding a character below the delimiter's code
(a `/` or a digit with `;`), where Python's `csv` quotes only a value holding the delimiter, a
quote or a line break. So Flink's own quoting is off. Read next: `local.py`.
"""

from __future__ import annotations

from rillet.runtime.plan import Sink

from .coltypes import BIGINT, BOOLEAN, STRING, Types
from .connectors import SinkTable
from .functions import OPERATORS_MODULE, PyUdf, udf_name
from .sqlexpr import Env, Unmappable, literal

_AS_THEY_ARE = {BIGINT, BOOLEAN}


def csv_sink_table(sink: Sink, path: str, columns: list[str]) -> SinkTable:
    config = sink.config
    delimiter = str(config.get("delimiter", ","))
    if config.get("partition_by"):
        raise Unmappable("a csv sink with `partition_by` (Flink's partitions are its own folders)")
    options = {
        "connector": "filesystem",
        "path": path,
        "format": "csv",
        "csv.field-delimiter": delimiter,
        "csv.disable-quote-character": "true",  # each value comes quoted as rillet quotes it
    }
    header = tuple(columns) if config.get("header", True) else None
    return SinkTable(sink.name, options, path, header=header, delimiter=delimiter)


def csv_columns(columns: dict[str, str], types: Types, env: Env, delimiter: str) -> dict[str, str]:
    """Each column as the text rillet's csv writer gives it, where Flink's would differ."""
    text = PyUdf(udf_name("csv_field", STRING), OPERATORS_MODULE, "csv_field", STRING)
    out = {}
    for name, sql in columns.items():
        kind = types.get(name)
        if kind is not None and kind.startswith("ROW<"):
            raise Unmappable(f"a record field (`{name}`) in a csv sink")
        out[name] = sql if kind in _AS_THEY_ARE else env.call(text, [sql, literal(delimiter)])
    return out
