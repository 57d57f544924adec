"""The record type a plugin operator declares through its return annotation.

A function of a record may return records whose fields nothing else declares. Annotated
`-> Enriched | None`, `-> list[Enriched]` or `-> Enriched` (or a union of these, all naming one
class), where `Enriched` is a `typing.TypedDict` or a `msgspec.Struct`, it declares them: the
checker then knows the fields after the operator, and `--engine flink` can give a table
function its row type before the job runs. A returned Struct is a record like a dict
(`as_record`). Read next: `pluginop.py`, which runs the operators.

>>> from typing import TypedDict
>>> class Enriched(TypedDict):
...     user: int
...     band: str | None
>>> declared_fields(list[Enriched] | None)
{'user': <class 'int'>, 'band': str | None}
>>> declared_fields(dict | None) is None
True
"""

from __future__ import annotations

import types
import typing
from typing import Any

import msgspec


def _is_record_class(annotation: Any) -> bool:
    if typing.is_typeddict(annotation):
        return True
    return isinstance(annotation, type) and issubclass(annotation, msgspec.Struct)


def declared_class(returns: Any) -> type | None:
    """The TypedDict or Struct class the annotation `returns` names as the operator's records,
    alone, in a list, optional, or several of these naming the same class; else None."""
    if typing.get_origin(returns) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(returns) if a is not type(None)]
    else:
        members = [returns]
    found = set()
    for member in members:
        if typing.get_origin(member) is list and len(typing.get_args(member)) == 1:
            member = typing.get_args(member)[0]
        if not _is_record_class(member):
            return None
        found.add(member)
    return found.pop() if len(found) == 1 else None


def declared_fields(returns: Any) -> dict[str, Any] | None:
    """The declared records' fields and their annotations, in declaration order; None when
    `returns` declares no record type."""
    cls = declared_class(returns)
    return None if cls is None else record_fields(cls)


def record_fields(cls: type) -> dict[str, Any]:
    """A TypedDict's or a Struct's fields and their annotations, in declaration order."""
    if typing.is_typeddict(cls):
        return dict(typing.get_type_hints(cls))
    return {f.name: f.type for f in msgspec.structs.fields(cls)}


def as_record(value: Any) -> Any:
    """A returned Struct as the dict it stands for (its fields by their Python names); any
    other value unchanged, for the caller to accept or refuse."""
    if isinstance(value, msgspec.Struct):
        return msgspec.structs.asdict(value)
    return value
