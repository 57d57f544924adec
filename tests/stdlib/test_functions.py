"""Scalar functions of the standard library (stdlib/functions.py): null in gives null out, each
computes what its summary says, and `parse_time`/`format_time` are exact inverses to the
millisecond over the whole range of dates.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rillet.runtime import ManualClock
from rillet.runtime.plugin import FunctionContext
from rillet.stdlib import functions as fn
from rillet.stdlib import plugin as std
from tests.conftest import run_pipeline
from tests.runtime._collect import CollectSink

NULL_IN_NULL_OUT = [
    (fn.lower, ()),
    (fn.upper, ()),
    (fn.trim, ()),
    (fn.length, ()),
    (fn.round_, (2,)),
    (fn.abs_, ()),
    (fn.floor, ()),
    (fn.ceil, ()),
    (fn.starts_with, ("x",)),
    (fn.ends_with, ("x",)),
    (fn.replace, ("a", "b")),
    (fn.split, (",",)),
    (fn.join, (",",)),
    (fn.substr, (1, 2)),
    (fn.to_int, ()),
    (fn.to_float, ()),
    (fn.to_str, ()),
    (fn.parse_time, ()),
    (fn.format_time, ()),
    (fn.extract, ("(a)",)),
    (fn.date, ()),
    (fn.year, ()),
    (fn.month, ()),
    (fn.day, ()),
    (fn.hour, ()),
    (fn.minute, ()),
]


def test_every_function_but_now_and_coalesce_is_covered_for_null() -> None:
    names = {s.name for s in std.specs if s.kind == "function"}
    covered = {f.__rillet_spec__.name for f, _ in NULL_IN_NULL_OUT}
    assert names - covered == {"now", "coalesce"}


@pytest.mark.parametrize(
    ("function", "rest"),
    NULL_IN_NULL_OUT,
    ids=[f.__rillet_spec__.name for f, _ in NULL_IN_NULL_OUT],
)
def test_function_returns_null_for_null_argument(function, rest: tuple) -> None:
    assert function(None, *rest) is None


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: fn.lower("AbC"), "abc"),
        (lambda: fn.upper("AbC"), "ABC"),
        (lambda: fn.trim("  a b \t"), "a b"),
        (lambda: fn.length([1, 2]), 2),
        (lambda: fn.length({"a": 1}), 1),
        (lambda: fn.length("héllo"), 5),
        (lambda: fn.round_(2.5), 2.0),
        (lambda: fn.round_(3.14159, 2), 3.14),
        (lambda: fn.abs_(-3.5), 3.5),
        (lambda: fn.floor(-1.5), -2),
        (lambda: fn.ceil(1.2), 2),
        (lambda: fn.starts_with("/checkout/1", "/checkout"), True),
        (lambda: fn.ends_with("a.csv", ".json"), False),
        (lambda: fn.replace("a-b-c", "-", "+"), "a+b+c"),
        (lambda: fn.split("a,b,,c", ","), ["a", "b", "", "c"]),
        (lambda: fn.join([1, None, "x"], "/"), "1/x"),
        (lambda: fn.substr("abcdef", 2), "cdef"),
        (lambda: fn.substr("abcdef", 1, 3), "bcd"),
        (lambda: fn.to_int("42"), 42),
        (lambda: fn.to_int("-3.9"), -3),
        (lambda: fn.to_int(True), 1),
        (lambda: fn.to_float("1e3"), 1000.0),
        (lambda: fn.to_str(False), "false"),
        (lambda: fn.to_str(1.5), "1.5"),
        (lambda: fn.coalesce(None, 2), 2),
        (lambda: fn.coalesce(0, 2), 0),
    ],
    ids=lambda v: "" if callable(v) else None,
)
def test_function_computes_documented_result(call, expected) -> None:
    result = call()
    assert result == expected
    assert type(result) is type(expected)


def test_to_int_of_non_numeric_text_raises() -> None:
    with pytest.raises(ValueError):
        fn.to_int("twelve")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("2026-01-01T00:00:00Z", 1_767_225_600_000),
        ("2026-01-01T00:00:00", 1_767_225_600_000),
        ("2026-01-01T02:00:00+02:00", 1_767_225_600_000),
        ("2026-01-01T00:00:00.123Z", 1_767_225_600_123),
        ("2026-01-01", 1_767_225_600_000),
        ("1969-12-31T23:59:59.999Z", -1),
    ],
)
def test_parse_time_reads_iso_8601_as_utc_epoch_ms(text: str, expected: int) -> None:
    assert fn.parse_time(text) == expected


def test_parse_and_format_time_with_a_format() -> None:
    assert fn.parse_time("01/02/2026 10:30", "%d/%m/%Y %H:%M") == 1_769_941_800_000
    assert fn.format_time(1_769_941_800_000, "%d/%m/%Y %H:%M") == "01/02/2026 10:30"


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1_767_225_600_123, "2026-01-01T00:00:00.123Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
    ],
)
def test_format_time_writes_iso_8601_utc_with_milliseconds(ms: int, text: str) -> None:
    assert fn.format_time(ms) == text


MIN_MS = -62_135_596_800_000  # 0001-01-01T00:00:00Z
MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.integers(MIN_MS, MAX_MS), st.integers(-(10**13), 10**13)))
def test_parse_time_inverts_format_time_to_the_millisecond(ms: int) -> None:
    text = fn.format_time(ms)
    assert fn.parse_time(text) == ms
    assert fn.format_time(fn.parse_time(text)) == text


def test_now_reads_the_run_clock() -> None:
    assert fn.now(FunctionContext(clock=ManualClock(start_ms=1234))) == 1234


def test_functions_in_a_pipeline_pass_null_through(tmp_path: Path, write) -> None:
    write("in.jsonl", '{"s": " Hi ", "t": "2026-01-01T00:00:01Z"}\n{}\n')
    out = CollectSink()
    run_pipeline(
        'source s = file("in.jsonl")\nsink o = file("o.jsonl")\n'
        "s | select u = upper(trim(s)), ms = parse_time(t), "
        "back = format_time(parse_time(t)), n = len(s) ?? -1 | into o\n",
        tmp_path,
        sinks={"o": out},
    )
    assert out.records == [
        {"u": "HI", "ms": 1_767_225_601_000, "back": "2026-01-01T00:00:01.000Z", "n": 4},
        {"u": None, "ms": None, "back": None, "n": -1},
    ]


def test_now_in_a_pipeline_uses_the_injected_clock(tmp_path: Path, write) -> None:
    write("in.jsonl", '{"a": 1}\n')
    out = CollectSink()
    run_pipeline(
        'source s = file("in.jsonl")\nsink o = file("o.jsonl")\ns | derive at = now() | into o\n',
        tmp_path,
        sinks={"o": out},
        clock=ManualClock(start_ms=42_000),
    )
    assert out.records == [{"a": 1, "at": 42_000}]


def test_to_str_and_join_write_non_text_values_as_json() -> None:
    assert fn.to_str(True) == "true"
    assert fn.to_str({"k": "v"}) == '{"k":"v"}'
    assert fn.to_str([1, 2]) == "[1,2]"
    assert fn.join([True, [1], "a", None, 2], ",") == "true,[1],a,2"


@pytest.mark.parametrize(
    ("text", "pattern", "group", "expected"),
    [
        ("https://shop.example/item/42", "https?://([^/]+)", 1, "shop.example"),
        ("https://shop.example/item/42", r"/item/(\d+)", 1, "42"),
        ("order 7 of 9", r"(\d+) of (\d+)", 2, "9"),
        ("order 7 of 9", r"\d+", 0, "7"),
        ("no digits", r"(\d+)", 1, None),
        ("ab", "a(x)?b", 1, None),  # the group took no part in the match
        ("naïve café", "(é)", 1, "é"),
    ],
)
def test_extract_returns_the_group_of_the_first_match(text, pattern, group, expected) -> None:
    assert fn.extract(text, pattern, group) == expected


def test_extract_of_a_group_the_pattern_lacks_raises() -> None:
    with pytest.raises(ValueError, match="the pattern has 1 group, not 2"):
        fn.extract("a", "(a)", 2)


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet="ab1-2 ", max_size=12),
    pattern=st.sampled_from([r"(\d)", r"a(b+)", r"(a|b)-(\d)", r"^(\s*)", r"(b)(1)?"]),
    group=st.integers(0, 1),
)
def test_extract_matches_duckdb_regexp_extract(text: str, pattern: str, group: int) -> None:
    """DuckDB runs RE2 too; it answers '' where rillet answers null (no match, or a group
    outside the match)."""
    import duckdb

    ((theirs, matched),) = duckdb.execute(
        "SELECT regexp_extract(?, ?, ?), regexp_matches(?, ?)",
        [text, pattern, group, text, pattern],
    ).fetchall()
    mine = fn.extract(text, pattern, group)
    assert (mine or "") == theirs
    assert (mine is not None) <= matched


@settings(max_examples=500, deadline=None)
@given(ms=st.integers(-62_135_596_800_000, 253_402_300_799_999))  # years 1 to 9999
def test_date_parts_agree_with_format_time(ms: int) -> None:
    text = fn.format_time(ms)
    assert text is not None
    assert fn.date(ms) == text[:10]
    assert (fn.year(ms), fn.month(ms), fn.day(ms)) == tuple(map(int, text[:10].split("-")))
    assert (fn.hour(ms), fn.minute(ms)) == (int(text[11:13]), int(text[14:16]))
