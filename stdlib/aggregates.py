"""Aggregates for `aggregate { ... }`: mergeable accumulators that skip nulls, as in SQL.

Each class is built once per group and window (with the call's arguments after the first, e.g.
the `q` of `quantile(x, q)`), gets `add(value)` per record, `merge(other)` when panes or sessions
combine, and `result()` when the window fires; `snapshot()`/`restore()` carry its state through
checkpoints as msgspec-encodable values. The window runtime arrives with the windows issue.
"""

from __future__ import annotations

import math
from typing import Any

from rillet.runtime.plugin import INT_MAX, INT_MIN, ExprError, Plugin

plugin = Plugin("std")


@plugin.aggregate("count")
class Count:
    """The number of records."""

    __slots__ = ("n",)
    inline_add = "{acc}.n += 1"
    inline_result = "{acc}.n"

    def __init__(self) -> None:
        self.n = 0

    def add(self) -> None:
        self.n += 1

    def merge(self, other: Count) -> None:
        self.n += other.n

    def result(self) -> int:
        return self.n

    def snapshot(self) -> Any:
        return self.n

    def restore(self, state: Any) -> None:
        self.n = state


@plugin.aggregate("count_if")
class CountIf(Count):
    """The number of records for which the condition is true."""

    __slots__ = ()
    inline_add = "if {0}:\n    {acc}.n += 1"
    inline_result = "{acc}.n"

    def add(self, condition: Any) -> None:  # type: ignore[override]
        if condition:
            self.n += 1


@plugin.aggregate("sum")
class Sum:
    """The sum of the non-null values; null when there are none."""

    __slots__ = ("total",)
    inline_add = (
        "if {0} is not None:\n    {acc}.total = {0} if (_t := {acc}.total) is None else _t + {0}"
    )

    def __init__(self) -> None:
        self.total: float | None = None

    def add(self, value: float) -> None:
        if value is not None:
            self.total = value if self.total is None else self.total + value

    def merge(self, other: Sum) -> None:
        theirs = other.total
        if theirs is not None:
            self.total = theirs if (mine := self.total) is None else mine + theirs

    def result(self) -> float | None:
        total = self.total  # exact while adding: checked once, here, not per record
        if type(total) is int and not INT_MIN <= total <= INT_MAX:
            raise ExprError("integer overflow: the result of `sum` is outside the 64-bit range")
        return total

    def snapshot(self) -> Any:
        """A total beyond 64 bits (later values may yet bring it back) as text: msgpack holds
        no wider int."""
        total = self.total
        if type(total) is int and not INT_MIN <= total <= INT_MAX:
            return str(total)
        return total

    def restore(self, state: Any) -> None:
        self.total = int(state) if isinstance(state, str) else state


@plugin.aggregate("avg")
class Avg:
    """The mean of the non-null values; null when there are none."""

    def __init__(self) -> None:
        self.total = 0.0
        self.n = 0

    def add(self, value: float) -> None:
        if value is not None:
            self.total += value
            self.n += 1

    def merge(self, other: Avg) -> None:
        self.total += other.total
        self.n += other.n

    def result(self) -> float | None:
        return self.total / self.n if self.n else None

    def snapshot(self) -> Any:
        return [self.total, self.n]

    def restore(self, state: Any) -> None:
        self.total, self.n = state


class _Extreme:
    def __init__(self) -> None:
        self.value: Any = None

    def _better(self, candidate: Any) -> bool:
        raise NotImplementedError

    def add(self, value: Any) -> None:
        if value is not None and (self.value is None or self._better(value)):
            self.value = value

    def merge(self, other: _Extreme) -> None:
        self.add(other.value)

    def result(self) -> Any:
        return self.value

    def snapshot(self) -> Any:
        return self.value

    def restore(self, state: Any) -> None:
        self.value = state


@plugin.aggregate("min")
class Min(_Extreme):
    """The smallest non-null value."""

    def _better(self, candidate: Any) -> bool:
        return candidate < self.value


@plugin.aggregate("max")
class Max(_Extreme):
    """The largest non-null value."""

    def _better(self, candidate: Any) -> bool:
        return candidate > self.value


class _ExtremeBy:
    """The value of the record whose `by` is the best; records with a null value or `by` are
    skipped (as SQL's `arg_max` does); of equal `by`s, the first to arrive wins."""

    __slots__ = ("by", "value")

    def __init__(self) -> None:
        self.value: Any = None
        self.by: Any = None

    def _better(self, candidate: Any) -> bool:
        raise NotImplementedError

    def add(self, value: Any, by: Any) -> None:
        if value is not None and by is not None and (self.by is None or self._better(by)):
            self.value, self.by = value, by

    def merge(self, other: _ExtremeBy) -> None:
        self.add(other.value, other.by)

    def result(self) -> Any:
        return self.value

    def snapshot(self) -> Any:
        return [self.value, self.by]

    def restore(self, state: Any) -> None:
        self.value, self.by = state


@plugin.aggregate("max_by")
class MaxBy(_ExtremeBy):
    """The value of the record with the largest `by` (`max_by(seller, price)`: who sold
    dearest)."""

    __slots__ = ()

    def _better(self, candidate: Any) -> bool:
        return candidate > self.by


@plugin.aggregate("min_by")
class MinBy(_ExtremeBy):
    """The value of the record with the smallest `by`."""

    __slots__ = ()

    def _better(self, candidate: Any) -> bool:
        return candidate < self.by


@plugin.aggregate("first")
class First(_Extreme):
    """The first non-null value, in arrival order."""

    def _better(self, candidate: Any) -> bool:
        return False


@plugin.aggregate("last")
class Last(_Extreme):
    """The last non-null value, in arrival order."""

    def _better(self, candidate: Any) -> bool:
        return True

    def merge(self, other: _Extreme) -> None:
        if other.value is not None:
            self.value = other.value


@plugin.aggregate("collect")
class Collect:
    """The non-null values as a list, in arrival order."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def add(self, value: Any) -> None:
        if value is not None:
            self.items.append(value)

    def merge(self, other: Collect) -> None:
        self.items.extend(other.items)

    def result(self) -> list[Any]:
        return list(self.items)

    def snapshot(self) -> Any:
        return self.items

    def restore(self, state: Any) -> None:
        self.items = list(state)


@plugin.aggregate("count_distinct")
class CountDistinct:
    """The number of distinct non-null values (exact)."""

    def __init__(self) -> None:
        self.seen: set[Any] = set()

    def add(self, value: Any) -> None:
        if value is not None:
            self.seen.add(value)

    def merge(self, other: CountDistinct) -> None:
        self.seen |= other.seen

    def result(self) -> int:
        return len(self.seen)

    def snapshot(self) -> Any:
        return sorted(self.seen, key=repr)

    def restore(self, state: Any) -> None:
        self.seen = set(state)


@plugin.aggregate("quantile")
class Quantile:
    """The `q` quantile of the non-null values, exact, linearly interpolated between ranks."""

    def __init__(self, q: float) -> None:
        self.q = q
        self.values: list[float] = []

    def add(self, value: float) -> None:
        if value is not None:
            self.values.append(value)

    def merge(self, other: Quantile) -> None:
        self.values.extend(other.values)

    def result(self) -> float | None:
        if not self.values:
            return None
        ordered = sorted(self.values)
        position = self.q * (len(ordered) - 1)
        low, high = math.floor(position), math.ceil(position)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

    def snapshot(self) -> Any:
        return self.values

    def restore(self, state: Any) -> None:
        self.values = list(state)
