"""Incremental snapshots: an operator whose state is mostly long lists (a join's buffered
records) hands a checkpoint only what changed in them since its last checkpoint, so a
checkpoint costs what changed, not what is held (`segments.py` keeps and merges the changes).

The operator's snapshot is still one Struct; `changes` describes it as its small fields (the
`header`, given whole each time) and its lists, each element under an id that stays the same
while the element is held. Putting the elements of each list back in the order of their ids
gives the snapshot the operator's `restore` reads, so restoring needs nothing new. An operator
without `changes` is saved whole at every checkpoint, as before.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import msgspec


class ListChanges(msgspec.Struct, array_like=True):
    upserts: list[tuple[int, Any]]
    """(id, element): elements added or changed since the last changes, by id."""
    removed: list[int]
    """Ids of elements no longer held (an id never written is ignored)."""


class Changes(msgspec.Struct, array_like=True):
    whole: bool
    """Every element held is in `upserts`: the start of a new chain of changes."""
    header: dict[str, Any]
    """The snapshot's fields other than its lists (its `version` tag among them)."""
    lists: dict[str, ListChanges]


@runtime_checkable
class Incremental(Protocol):
    def changes(self, whole: bool) -> Changes:
        """What changed since the last call (everything held when `whole`): called at each
        checkpoint's barrier, in place of `snapshot`."""
        ...


__all__ = ["Changes", "Incremental", "ListChanges"]
