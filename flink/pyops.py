"""rillet's operators where Flink SQL's differ, run as Python UDFs inside a Flink job.

Flink's `MOD` takes only exact numbers and keeps the dividend's sign, its `/` on ints truncates
toward zero, and `+` neither concatenates text nor lists: these functions are rillet's own
meaning (docs/language.md §5.6: null gives null, ints stay 64-bit), imported by the Python
workers of a job that needs them. Indexing and `in` over a value reuse the embedded engine's
helpers. Nothing here imports PyFlink.
"""

from __future__ import annotations

from typing import Any

import msgspec

from rillet.runtime.expr import INT_MAX, INT_MIN, contains, read_index


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
