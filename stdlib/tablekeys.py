"""The `key` of an upserting sink (`postgres`, `sqlite`, `delta`): one field or a list of
fields, taken as a tuple of field names everywhere past the config (a composite key is the
tuple of the record's values), and `partition_by` of the folder-writing sinks (`file`,
`parquet`, `delta`)."""

from __future__ import annotations

from .filecheck import invalid

Key = str | list[str] | None
"""As a pipeline writes it: `key="user"` or `key=["user", "window_start"]`."""


def key_fields(key: Key) -> tuple[str, ...]:
    """The key's field names, in order; none for a sink without a key (it appends)."""
    if key is None:
        return ()
    return (key,) if isinstance(key, str) else tuple(key)


def check_fields(argument: str, names: Key, empty_ok: bool = False) -> None:
    """Raise the checker's config error when a list of field names repeats one, or is empty
    where that means nothing (`key=[]`; `partition_by=[]` is no partitions)."""
    fields = key_fields(names)
    if isinstance(names, list) and not fields and not empty_ok:
        raise invalid(argument, f"`{argument}` names no field: leave it out, or name one")
    twice = sorted({f for f in fields if fields.count(f) > 1})
    if twice:
        raise invalid(argument, f"`{argument}` names `{twice[0]}` twice")
