"""Partition folders named from field values, Hive-style (`dt=2026-12-03/page=%2Fhome`), as
the `file`, `parquet` and `delta` sinks lay out their output when given `partition_by`: each
value is percent-encoded, so a `/` or `=` in it never makes a folder of its own, and a null
value is Hive's `__HIVE_DEFAULT_PARTITION__` (what Spark, pyarrow and DuckDB read back as null).

>>> folder_of({"dt": "2026-12-03", "page": "/home", "n": 1}, ("dt", "page"))
'dt=2026-12-03/page=%2Fhome'
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

NULL_FOLDER = "__HIVE_DEFAULT_PARTITION__"


def folder_of(record: dict, fields: tuple[str, ...]) -> str:
    """The folder, relative to the sink's, that `record` goes into ("" without partitions)."""
    return "/".join(f"{quote(f, safe='')}={_value(record.get(f))}" for f in fields)


def _value(value: object) -> str:
    if value is None:
        return NULL_FOLDER
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return quote(text, safe="") if text else NULL_FOLDER


def by_folder(records: list[dict], fields: tuple[str, ...]) -> dict[str, list[dict]]:
    """`records` grouped by their folder, each group in arrival order."""
    if not fields:
        return {"": records}
    groups: dict[str, list[dict]] = {}
    for record in records:
        groups.setdefault(folder_of(record, fields), []).append(record)
    return groups


def partition_folders(root: Path, depth: int) -> list[Path]:
    """The partition folders `depth` levels under `root` (only `root` at depth 0), sorted."""
    return sorted(root.glob("/".join(["*=*"] * depth))) if depth else [root]
