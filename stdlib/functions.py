"""Scalar functions callable in expressions. Each returns null when a required argument is null,
so `lower(referrer)` on a record without `referrer` is null rather than an error."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from rillet.runtime.plugin import (
    INT_MAX,
    INT_MIN,
    FunctionContext,
    Plugin,
    Regex,
    RegexError,
    capturing,
)

plugin = Plugin("std")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def _int64(value: int) -> int:
    """An int result, held to the language's 64 bits like arithmetic's (`runtime/expr.py`)."""
    if not INT_MIN <= value <= INT_MAX:
        raise ValueError(
            f"{value:.6g} is outside the 64-bit int range"
            if value.bit_length() > 64
            else f"{value} is outside the 64-bit int range"
        )
    return value


@plugin.function("lower")
def lower(text: str | None) -> str | None:
    """The text in lower case."""
    return None if text is None else text.lower()


@plugin.function("upper")
def upper(text: str | None) -> str | None:
    """The text in upper case."""
    return None if text is None else text.upper()


@plugin.function("trim")
def trim(text: str | None) -> str | None:
    """The text without leading and trailing whitespace."""
    return None if text is None else text.strip()


@plugin.function("len")
def length(value: Any) -> int | None:
    """The number of items of a list or record, or of characters of a string."""
    return None if value is None else len(value)


@plugin.function("round")
def round_(x: float | None, digits: int = 0) -> float | None:
    """`x` rounded to `digits` decimals (half to even, as Python does)."""
    if x is None:
        return None
    return round(x, digits) if digits else float(round(x))


@plugin.function("abs")
def abs_(x: float | None) -> float | None:
    """The absolute value."""
    if x is None:
        return None
    return _int64(abs(x)) if type(x) is int else abs(x)


@plugin.function("floor")
def floor(x: float | None) -> int | None:
    """The largest int not above `x`."""
    return None if x is None else _int64(math.floor(x))


@plugin.function("ceil")
def ceil(x: float | None) -> int | None:
    """The smallest int not below `x`."""
    return None if x is None else _int64(math.ceil(x))


@plugin.function("starts_with")
def starts_with(text: str | None, prefix: str) -> bool | None:
    """Whether the text starts with `prefix`."""
    return None if text is None else text.startswith(prefix)


@plugin.function("ends_with")
def ends_with(text: str | None, suffix: str) -> bool | None:
    """Whether the text ends with `suffix`."""
    return None if text is None else text.endswith(suffix)


@plugin.function("replace")
def replace(text: str | None, old: str, new: str) -> str | None:
    """The text with every `old` replaced by `new`."""
    return None if text is None else text.replace(old, new)


@plugin.function("split")
def split(text: str | None, separator: str) -> list[str] | None:
    """The parts of the text between separators."""
    return None if text is None else text.split(separator)


@plugin.function("join")
def join(items: list | None, separator: str) -> str | None:
    """The items, as text, joined by `separator` (null items skipped)."""
    if items is None:
        return None
    return separator.join(_text(i) for i in items if i is not None)


@plugin.function("substr")
def substr(text: str | None, start: int, length: int | None = None) -> str | None:
    """`length` characters from `start` (0-based; to the end without a length)."""
    if text is None:
        return None
    return text[start:] if length is None else text[start : start + length]


@plugin.function("extract")
def extract(text: str | None, pattern: Regex, group: int = 1) -> str | None:
    """The text of capture group `group` of the first match of `pattern` in `text` (0: the
    whole match); null when nothing matches or the group took no part in the match."""
    if text is None or pattern is None:
        return None
    try:
        compiled = capturing(pattern)
    except RegexError as e:
        raise ValueError(f"{e.message}: {e.label}") from None
    if not 0 <= group <= compiled.groups:
        plural = "" if compiled.groups == 1 else "s"
        raise ValueError(f"the pattern has {compiled.groups} group{plural}, not {group}")
    found = compiled.search(text)
    return None if found is None else found.group(group)


@plugin.function("to_int")
def to_int(value: Any) -> int | None:
    """An int from a number, a bool or a numeric string (floats truncate toward zero); one
    outside 64 bits is an error."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            number = int(value)
        except ValueError:
            number = int(float(value))
        return _int64(number)
    return _int64(int(value))


@plugin.function("to_float")
def to_float(value: Any) -> float | None:
    """A float from a number or a numeric string."""
    return None if value is None else float(value)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return msgspec.json.encode(value).decode()  # true, false, lists and records as JSON


@plugin.function("to_str")
def to_str(value: Any) -> str | None:
    """The value as text: strings as they are, numbers as Python writes them, booleans,
    lists and records as JSON (`true`, `[1, 2]`, `{"k":"v"}`)."""
    return None if value is None else _text(value)


@plugin.function("coalesce")
def coalesce(first: Any, second: Any) -> Any:
    """The first argument that is not null (the same as `first ?? second`)."""
    return second if first is None else first


@plugin.function("parse_time")
def parse_time(text: str | None, format: str | None = None) -> int | None:
    """Epoch milliseconds from an ISO-8601 string (or a strptime `format`); no zone means UTC."""
    if text is None:
        return None
    if format is None:
        parsed = datetime.fromisoformat(text)
    else:
        parsed = datetime.strptime(text, format)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return (parsed - _EPOCH) // _MS  # exact: a float timestamp × 1000 can be 1 ms off


@plugin.function("format_time")
def format_time(ms: int | None, format: str | None = None) -> str | None:
    """ISO-8601 UTC text for epoch milliseconds (or a strftime `format`)."""
    if ms is None:
        return None
    moment = _EPOCH + timedelta(milliseconds=ms)  # exact, unlike a float of seconds
    if format is not None:
        return moment.strftime(format)
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"  # year 0999 too


_DAY_MS = 86_400_000


def _civil(ms: int) -> tuple[int, int, int]:
    """(year, month, day) in UTC of epoch milliseconds, by integer arithmetic (the proleptic
    Gregorian calendar, as `format_time`), several times faster than building a datetime."""
    z = ms // _DAY_MS + 719_468  # days since 0000-03-01
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, doy - (153 * mp + 2) // 5 + 1


@plugin.function("date")
def date(ms: int | None) -> str | None:
    """The UTC date of epoch milliseconds as `YYYY-MM-DD` (a partition folder's `dt`)."""
    if ms is None:
        return None
    year, month, day_ = _civil(ms)
    return f"{year:04d}-{month:02d}-{day_:02d}"


@plugin.function("year")
def year(ms: int | None) -> int | None:
    """The UTC year of epoch milliseconds."""
    return None if ms is None else _civil(ms)[0]


@plugin.function("month")
def month(ms: int | None) -> int | None:
    """The UTC month of epoch milliseconds, 1 to 12."""
    return None if ms is None else _civil(ms)[1]


@plugin.function("day")
def day(ms: int | None) -> int | None:
    """The UTC day of the month of epoch milliseconds, 1 to 31."""
    return None if ms is None else _civil(ms)[2]


@plugin.function("hour")
def hour(ms: int | None) -> int | None:
    """The UTC hour of epoch milliseconds, 0 to 23."""
    return None if ms is None else ms // 3_600_000 % 24


@plugin.function("minute")
def minute(ms: int | None) -> int | None:
    """The minute of the hour of epoch milliseconds, 0 to 59."""
    return None if ms is None else ms // 60_000 % 60


@plugin.function("now", context=True)
def now(context: FunctionContext) -> int:
    """Processing time: the run's clock, epoch milliseconds."""
    return context.clock.time_ms()
