"""Ints are 64-bit, as the language says: an `int` schema field outside the range is a bad
record (JSON and CSV, dict and typed records), and arithmetic, the int functions and `sum` that
would leave it make error records naming the operator, instead of Python's unbounded ints."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec
import pytest

from rillet.runtime.expr import INT_MAX, INT_MIN, ExprError
from rillet.runtime.plan import Assign, Binary, Derive, Expr, Field, Lit, Unary
from rillet.runtime.stage import compile_stage
from rillet.stdlib import aggregates, functions
from tests.conftest import run_pipeline


def _evaluate(expr: Expr, record: dict) -> Any:
    stage = compile_stage([Derive((Assign("v", expr),))], {})
    failures: list[BaseException] = []
    out, _ = stage.run([record], [0], lambda r, o, i, e: failures.append(e))
    if failures:
        raise failures[0]
    return out[0]["v"]


def _lines(path: Path) -> list[dict]:
    return [msgspec.json.decode(line) for line in path.read_bytes().splitlines()]


A, B = Field(("a",)), Field(("b",))


@pytest.mark.parametrize(
    ("op", "a", "b"),
    [
        ("+", INT_MAX, 1),
        ("-", INT_MIN, 1),
        ("*", 2**32, 2**31),
        ("*", -(2**32), 2**32),
        ("//", INT_MIN, -1),
    ],
)
def test_arithmetic_leaving_64_bits_is_an_error_naming_the_operator(
    op: str, a: int, b: int
) -> None:
    message = f"integer overflow: the result of `{op}` is outside the 64-bit range"
    with pytest.raises(ExprError, match=re.escape(message)):
        _evaluate(Binary(op, A, B), {"a": a, "b": b})


def test_negating_the_smallest_int_overflows() -> None:
    with pytest.raises(ExprError, match="the result of `-` is outside"):
        _evaluate(Unary("-", A), {"a": INT_MIN})


@pytest.mark.parametrize(
    ("op", "a", "b", "expected"),
    [
        ("+", INT_MAX - 1, 1, INT_MAX),
        ("-", INT_MIN + 1, 1, INT_MIN),
        ("*", -(2**62), 2, INT_MIN),
        ("//", INT_MIN, 1, INT_MIN),
        ("%", INT_MIN, -1, 0),
        ("*", 1e300, 1e10, float("inf")),
        ("+", 2.0**70, 1, 2.0**70),  # floats are not ints
        ("+", "ab", "c", "abc"),
        ("*", "ab", 2, "abab"),
        ("+", [1], [2], [1, 2]),
        ("+", None, INT_MAX, None),
        ("+", True, True, 2),
    ],
)
def test_results_within_64_bits_and_other_types_are_untouched(
    op: str, a: Any, b: Any, expected: Any
) -> None:
    assert _evaluate(Binary(op, A, B), {"a": a, "b": b}) == expected


def test_a_literal_operand_is_checked_too() -> None:
    with pytest.raises(ExprError, match="`\\+`"):
        _evaluate(Binary("+", A, Lit(1)), {"a": INT_MAX})


@pytest.mark.parametrize(
    ("function", "value"),
    [
        (functions.to_int, "99999999999999999999"),
        (functions.to_int, "1e19"),
        (functions.to_int, 2.0**63),
        (functions.floor, 1e300),
        (functions.ceil, -1e300),
        (functions.abs_, INT_MIN),
    ],
)
def test_int_functions_refuse_results_beyond_64_bits(function: Any, value: Any) -> None:
    with pytest.raises(ValueError, match="outside the 64-bit int range"):
        function(value)


def test_int_functions_keep_the_range_edges() -> None:
    assert functions.to_int(str(INT_MAX)) == INT_MAX
    assert functions.to_int(str(INT_MIN)) == INT_MIN
    assert functions.abs_(INT_MIN + 1) == INT_MAX


def test_sum_beyond_64_bits_fails_at_its_result_and_survives_a_checkpoint() -> None:
    total = aggregates.Sum()
    total.add(INT_MAX)
    total.add(INT_MAX)
    state = msgspec.msgpack.decode(msgspec.msgpack.encode(total.snapshot()))
    restored = aggregates.Sum()
    restored.restore(state)
    with pytest.raises(ExprError, match="the result of `sum` is outside the 64-bit range"):
        restored.result()
    restored.add(-INT_MAX)  # later values may bring it back
    assert restored.result() == INT_MAX


SCHEMA = """schema Row {
  id: int
  tags: list[int]?
}
"""


@pytest.mark.parametrize(
    "flow",
    [
        "rows | into out",  # dict records
        "rows | where id > 0 | select id | into out",  # typed records (Structs)
    ],
    ids=["dict", "typed"],
)
def test_int_field_outside_64_bits_is_a_bad_record(tmp_path: Path, write, flow: str) -> None:
    lines = [
        '{"id": 9223372036854775807}',
        '{"id": 9223372036854775808}',
        '{"id": -9223372036854775809}',
        '{"id": 1, "tags": [1, 100000000000000000000]}',
        '{"id": 123456789012345678901234567890123456789012345678901234567}',
    ]
    write("in.jsonl", "".join(line + "\n" for line in lines))
    run_pipeline(
        SCHEMA + 'source rows: Row = file("in.jsonl")\nsink out = file("out.jsonl")\n'
        'sink bad = file("bad.jsonl")\nerrors into bad\n' + flow + "\n",
        tmp_path,
    )
    assert [r["id"] for r in _lines(tmp_path / "out.jsonl")] == [INT_MAX]
    bad = _lines(tmp_path / "bad.jsonl")
    offsets = [sum(len(line) + 1 for line in lines[:n]) for n in range(1, 5)]
    assert [r["offset"] for r in bad] == offsets
    assert [r["reason"] for r in bad] == [
        f"schema `Row`: expected `int` of 64 bits, at most {INT_MAX} at `id`",
        f"schema `Row`: expected `int` of 64 bits, at least {INT_MIN} at `id`",
        f"schema `Row`: expected `int` of 64 bits, at most {INT_MAX} at `tags[1]`",
        f"schema `Row`: expected `int` of 64 bits, at most {INT_MAX} at `id`",
    ]
    assert all(r["operator"] == "source" for r in bad)


def test_csv_int_field_outside_64_bits_is_a_bad_record(tmp_path: Path, write) -> None:
    write("in.csv", "id\n5\n99999999999999999999\n")
    run_pipeline(
        SCHEMA + 'source rows: Row = file("in.csv", format="csv")\n'
        'sink out = file("out.jsonl")\nsink bad = file("bad.jsonl")\nerrors into bad\n'
        "rows | into out\n",
        tmp_path,
    )
    assert _lines(tmp_path / "out.jsonl") == [{"id": 5}]
    [bad] = _lines(tmp_path / "bad.jsonl")
    assert bad["reason"] == f"schema `Row`: expected `int` of 64 bits, at most {INT_MAX} at `id`"
    assert bad["offset"] is not None


def test_overflowing_arithmetic_in_a_pipeline_is_an_error_record(tmp_path: Path, write) -> None:
    write("in.jsonl", '{"id": 3}\n{"id": 9000000000000000000}\n')
    run_pipeline(
        SCHEMA + 'source rows: Row = file("in.jsonl")\nsink out = file("out.jsonl")\n'
        'sink bad = file("bad.jsonl")\nerrors into bad\n'
        "rows | derive twice = id * 2 | into out\n",
        tmp_path,
    )
    assert _lines(tmp_path / "out.jsonl") == [{"id": 3, "twice": 6}]
    [bad] = _lines(tmp_path / "bad.jsonl")
    assert bad["reason"] == (
        "`derive` failed: integer overflow: the result of `*` is outside the 64-bit range"
    )
    assert (bad["operator"], bad["offset"], bad["raw"]) == (
        "derive",
        10,
        {"id": 9000000000000000000},
    )


def test_a_failing_aggregate_result_is_an_error_record_not_a_crash(tmp_path: Path, write) -> None:
    write(
        "in.jsonl",
        '{"k": 1, "a": 1, "b": 0}\n{"k": 2, "a": 9223372036854775807, "b": 1}\n'
        '{"k": 2, "a": 9223372036854775807, "b": 1}\n{"k": 3, "a": 4, "b": 2}\n',
    )
    run_pipeline(
        'source s = file("in.jsonl")\nsink out = file("out.jsonl")\n'
        'sink bad = file("bad.jsonl")\nerrors into bad\n'
        "s | aggregate by k { r = sum(a) / sum(b) } | into out\n",
        tmp_path,
    )
    assert _lines(tmp_path / "out.jsonl") == [{"k": 3, "r": 2.0}]
    assert [
        (r["reason"], r["raw"], r["offset"], r["source"]) for r in _lines(tmp_path / "bad.jsonl")
    ] == [
        ("`aggregate` failed: division by zero", {"k": 1}, None, "aggregate@5"),
        (
            "`aggregate` failed: integer overflow: the result of `sum` is outside the 64-bit range",
            {"k": 2},
            None,
            "aggregate@5",
        ),
    ]
