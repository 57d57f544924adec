"""`top N by FIELD desc per KEY`: per window and key, the first N records in an order.

It runs on the windows of `aggregate` (`window.py`): a `top` is an aggregate whose one
accumulator, `TopN`, keeps the group's first N records, and whose result is those records, one
row each with its `rank`. So panes, sessions, late records, firing order and snapshots are the
windows' own, and a sliding window's top N is the top N of its panes' (each pane keeps its
own N, and a record outside a pane's first N cannot be in a window's).

Records are ranked by a sort key (smaller first) and then by arrival number, counted by the
operator, so ties go to the record that reached `top` first wherever batches are cut. Nulls (and
NaN) come last in both directions, as in DuckDB; numbers come before text in a field that holds
both. A group's records are a sorted list of at most N, so a record costs one comparison with
the last once the group is full.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from .aggregate import CompiledAggregate, compile_aggregate
from .plan import Aggregate, Order, Top
from .plugin import Registry

_stamp = itemgetter(0, 1)  # (sort key, arrival no.) of an entry


class _Descending:
    """Text in reverse order, for `desc` (numbers are negated instead)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __lt__(self, other: _Descending) -> bool:
        return self.text > other.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and self.text == other.text

    __hash__ = None  # type: ignore[assignment]


_LAST = (2,)  # a null or NaN: after every value, whichever the direction


def _part(value: Any, descending: bool, field: str) -> tuple:
    """One order field's part of a sort key."""
    if value is None:
        return _LAST
    if isinstance(value, int | float):
        if value != value:  # NaN compares with nothing
            return _LAST
        return (0, -value if descending else value)
    if isinstance(value, str):
        return (1, _Descending(value) if descending else value)
    kinds: dict[type, str] = {list: "a list", dict: "a record"}
    kind = kinds.get(type(value), type(value).__name__)
    raise ValueError(f"`{field}` is {kind}, which has no order: `top` orders numbers and text")


def sort_key(order: tuple[Order, ...]) -> Callable[[dict], tuple]:
    """A record's sort key: the smaller, the higher it ranks."""
    if len(order) == 1:
        (only,) = order
        return lambda r: (_part(r.get(only.field), only.descending, only.field),)
    return lambda r: tuple(_part(r.get(o.field), o.descending, o.field) for o in order)


class Arrivals:
    """The arrival numbers of one `top` operator, shared by its groups; restored past the
    largest one a snapshot holds, so records to come rank after the kept ones they tie."""

    __slots__ = ("next",)

    def __init__(self) -> None:
        self.next = 0

    def take(self) -> int:
        self.next += 1
        return self.next - 1


class TopN:
    """An accumulator keeping a group's first `count` records: (sort key, arrival, record)."""

    __slots__ = ("arrivals", "count", "entries", "key")

    def __init__(self, count: int, key: Callable[[dict], tuple], arrivals: Arrivals) -> None:
        self.count, self.key, self.arrivals = count, key, arrivals
        self.entries: list[tuple[tuple, int, dict]] = []

    def add(self, record: dict) -> None:
        self._keep((self.key(record), self.arrivals.take(), record))

    def _keep(self, entry: tuple[tuple, int, dict]) -> None:
        entries = self.entries
        if len(entries) >= self.count:
            if _stamp(entry) > _stamp(entries[-1]):
                return
            entries.pop()
        bisect.insort(entries, entry, key=_stamp)

    def merge(self, other: TopN) -> None:
        for entry in other.entries:
            self._keep(entry)

    def result(self) -> list[dict]:
        return [record for _, _, record in self.entries]

    def snapshot(self) -> list[tuple[int, dict]]:
        return [(seq, record) for _, seq, record in self.entries]

    def restore(self, saved: list[Any]) -> None:
        self.entries = [(self.key(record), seq, record) for seq, record in saved]
        newest = max((seq for seq, _ in saved), default=-1)
        self.arrivals.next = max(self.arrivals.next, newest + 1)


def _rows(key: Any, accs: list) -> list[dict]:
    return [{**record, "rank": rank} for rank, record in enumerate(accs[0].result(), 1)]


def compile_top(
    op: Top, registry: Registry, functions: dict[str, Callable[..., Any]]
) -> CompiledAggregate:
    """`op` as an aggregate of one `TopN` per group, keyed by its `per` fields."""
    keyed = compile_aggregate(Aggregate(op.keys, ()), registry, functions)
    count, key, arrivals = op.count, sort_key(op.order), Arrivals()

    def update(accs: list, record: dict) -> None:
        accs[0].add(record)

    return dataclasses.replace(
        keyed,
        new_accumulators=lambda: [TopN(count, key, arrivals)],
        update=update,
        rows=_rows,
        rows_of=None,
        merge=None,
        update_lines=("accs[0].add(r)",),
    )


__all__ = ["TopN", "compile_top", "sort_key"]
