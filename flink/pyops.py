"""rillet's operators where Flink SQL's differ, run as Python UDFs inside a Flink job.

Flink's `MOD` takes only exact numbers and keeps the dividend's sign, its `/` on ints truncates
toward zero, and `+` neither concatenates text nor lists: these functions are rillet's own
meaning (docs/language.md §5.6: null gives null, ints stay 64-bit), imported by the Python
workers of a job that needs them. Indexing and `in` over a value reuse the embedded engine's
helpers. `OperatorCall` runs a plugin operator for a table function (`pluginop.py`). Nothing
here imports PyFlink.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import msgspec

from rillet.runtime.expr import INT_MAX, INT_MIN, contains, read_index
from rillet.runtime.recordtype import as_record


def _int64(value: Any, op: str) -> Any:
    if type(value) is int and not INT_MIN <= value <= INT_MAX:
        raise ArithmeticError(f"integer overflow: the result of `{op}` is outside the 64-bit range")
    return value


def floor_divide(a: Any, b: Any) -> Any:
    """`a // b`: floor division, an int for ints, a float otherwise (`-7 // 2` is `-4`)."""
    return None if a is None or b is None else _int64(a // b, "//")


def remainder(a: Any, b: Any) -> Any:
    """`a % b`: the remainder with the divisor's sign (`-7 % 3` is `2`)."""
    return None if a is None or b is None else a % b


def plus(a: Any, b: Any) -> Any:
    """`a + b` of two strings or two lists: their concatenation."""
    return None if a is None or b is None else a + b


def times(a: Any, b: Any) -> Any:
    """`a * b` of a string or list and an int: repeated."""
    return None if a is None or b is None else a * b


def index(value: Any, key: Any) -> Any:
    """`value[key]`: an item of a list (0-based, negative from the end), a character, or a
    record's field; null out of range."""
    return read_index(value, key)


def member(value: Any, container: Any) -> bool:
    """`value in container`: an item of a list, a key of a record, a substring of a string."""
    return contains(container, value)


def csv_field(value: Any, delimiter: str) -> str | None:
    """A value as rillet's csv writer writes it (Python's `csv`, minimal quoting): Python's
    float text, JSON for a list, quoted only when it holds the delimiter, a quote or a line
    break (null stays null: an empty value)."""
    if value is None:
        return None
    if isinstance(value, list):
        text = msgspec.json.encode(value).decode()
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    if any(c in text for c in (delimiter, '"', "\n", "\r")):
        return '"' + text.replace('"', '""') + '"'
    return text


@dataclass(frozen=True)
class OperatorCode:
    """Where a worker finds a plugin operator: `attr` of `module`, or of the plugin file
    `file` whose `source` the job carries, run on the worker itself. Shipping the function by
    value (cloudpickle) would rebuild a `msgspec.Struct` class it returns without its fields."""

    module: str
    attr: str
    file: str | None
    source: str | None

    def load(self) -> Callable[..., Any]:
        if self.source is None:
            return getattr(importlib.import_module(self.module), self.attr)
        namespace: dict[str, Any] = {"__name__": "rillet_flink_operator", "__file__": self.file}
        exec(compile(self.source, self.file or "<plugin>", "exec"), namespace)
        return namespace[self.attr]


@dataclass(frozen=True)
class OperatorCall:
    """A plugin operator called for one row: the row's values as a record named by `columns`,
    the constant `kwargs`; the records it returns (None, one, a list; Structs as dicts) as
    rows of `fields`. An `async def` function runs to completion per record. A record it
    changes the event time of (`time_field`) fails the job: Flink keeps the input's rowtime,
    where rillet would read the new time."""

    code: OperatorCode
    columns: tuple[str, ...]
    kwargs: dict[str, Any]
    fields: tuple[str, ...]
    time_field: str | None
    is_async: bool
    what: str

    @functools.cached_property
    def fn(self) -> Callable[..., Any]:
        """Loaded on the worker, at the first row."""
        return self.code.load()

    def rows(self, values: tuple) -> list[tuple]:
        record = dict(zip(self.columns, values))
        if self.is_async:
            result = anyio.run(functools.partial(self.fn, record, **self.kwargs))
        else:
            result = self.fn(record, **self.kwargs)
        returned = [] if result is None else result if isinstance(result, list) else [result]
        rows = []
        for item in map(as_record, returned):
            if not isinstance(item, dict):
                raise TypeError(
                    f"{self.what} returned {type(item).__name__}, not a record, a list or None"
                )
            if self.time_field is not None and item.get(self.time_field) != record.get(
                self.time_field
            ):
                raise ValueError(
                    f"{self.what} changed the event time `{self.time_field}` of a record: on"
                    " Flink a record keeps the event time of the row it came from"
                )
            rows.append(tuple(item.get(name) for name in self.fields))
        return rows
