"""Expressions compiled to Python (runtime/expr.py): the null rules of docs/language.md §5.4 and
each operator, evaluated through a one-operator stage built from plan IR, with no pipeline text.

The rules under test: a missing field reads as null, arithmetic on null gives null, ordering
comparisons with null are false, `== null` and `!= null` work, `a ?? b` is b only when a is null.
"""

from __future__ import annotations

from typing import Any

import pytest

from rillet.runtime.expr import ExprError, describe_error
from rillet.runtime.plan import (
    Assign,
    Binary,
    Call,
    Derive,
    Expr,
    Field,
    IfElse,
    Index,
    ListOf,
    Lit,
    Match,
    RecordOf,
    Unary,
)
from rillet.runtime.stage import compile_stage
from rillet.stdlib import functions

FUNCTIONS = {
    "lower": functions.lower,
    "len": functions.length,
    "round": functions.round_,
    "echo": lambda *args, **kwargs: [list(args), kwargs],
}


def F(*path: str) -> Field:
    return Field(path)


def L(value: Any) -> Lit:
    return Lit(value)


def B(op: str, left: Expr, right: Expr) -> Binary:
    return Binary(op, left, right)


def evaluate(expr: Expr, record: dict) -> Any:
    """`derive v = expr` over one record; raises what the expression raised."""
    stage = compile_stage([Derive((Assign("v", expr),))], FUNCTIONS)
    failures: list[BaseException] = []
    out, offsets = stage.run([record], [0], lambda r, o, i, e: failures.append(e))
    if failures:
        raise failures[0]
    assert offsets == [0]
    return out[0]["v"]


ARITHMETIC = ["+", "-", "*", "/", "//", "%"]
ORDERING = ["<", "<=", ">", ">="]


# -- fields ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "record", "expected"),
    [
        (F("a"), {"a": 3}, 3),
        (F("a"), {}, None),
        (F("geo", "city"), {"geo": {"city": "Lyon"}}, "Lyon"),
        (F("geo", "city"), {}, None),
        (F("geo", "city"), {"geo": None}, None),
        (F("geo", "city"), {"geo": {}}, None),
        (F(), {"a": 1}, {"a": 1}),
        (F("odd key"), {"odd key": 5}, 5),
    ],
    ids=[
        "present",
        "missing",
        "path",
        "path-missing-root",
        "path-null-root",
        "path-missing-leaf",
        "this",
        "odd-key",
    ],
)
def test_field_reads_value_or_null_when_missing(expr: Expr, record: dict, expected: Any) -> None:
    assert evaluate(expr, record) == expected


def test_field_path_fails_through_a_non_record() -> None:
    with pytest.raises(ExprError, match="cannot read field `city` of a str value"):
        evaluate(F("geo", "city"), {"geo": "Lyon"})


@pytest.mark.parametrize(
    ("target", "key", "expected"),
    [
        (L(None), L(0), None),
        (F("xs"), L(0), 10),
        (F("xs"), L(-1), 30),
        (F("xs"), L(3), None),
        (F("xs"), L(-4), None),
        (F("xs"), F("missing"), None),
        (F("rec"), L("odd key"), 1),
        (F("rec"), L("absent"), None),
        (F("text"), L(1), "b"),
    ],
    ids=[
        "null-target",
        "first",
        "negative",
        "past-end",
        "before-start",
        "null-key",
        "record",
        "record-absent",
        "string",
    ],
)
def test_index_reads_element_or_null(target: Expr, key: Expr, expected: Any) -> None:
    record = {"xs": [10, 20, 30], "rec": {"odd key": 1}, "text": "abc"}
    assert evaluate(Index(target, key), record) == expected


@pytest.mark.parametrize(
    ("target", "key"),
    [(F("xs"), L("0")), (F("xs"), L(True)), (L(5), L(0))],
    ids=["str-key-on-list", "bool-key-on-list", "int-target"],
)
def test_index_fails_on_wrong_types(target: Expr, key: Expr) -> None:
    with pytest.raises(ExprError):
        evaluate(Index(target, key), {"xs": [1, 2]})


# -- arithmetic and ordering -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ("+", 9),
        ("-", 5),
        ("*", 14),
        ("/", 3.5),
        ("//", 3),
        ("%", 1),
    ],
)
def test_arithmetic_computes_on_numbers(op: str, expected: Any) -> None:
    assert evaluate(B(op, F("a"), F("b")), {"a": 7, "b": 2}) == expected


@pytest.mark.parametrize("op", ARITHMETIC)
@pytest.mark.parametrize("side", ["left", "right", "both", "literal-null"])
def test_arithmetic_is_null_when_an_operand_is_null(op: str, side: str) -> None:
    present, missing = F("a"), F("missing")
    left, right = {
        "left": (missing, present),
        "right": (present, missing),
        "both": (missing, missing),
        "literal-null": (present, L(None)),
    }[side]
    assert evaluate(B(op, left, right), {"a": 4}) is None


def test_negation_is_null_for_null_and_negates_numbers() -> None:
    assert evaluate(Unary("-", F("missing")), {}) is None
    assert evaluate(Unary("-", F("a")), {"a": 3}) == -3


@pytest.mark.parametrize("op", ORDERING)
@pytest.mark.parametrize("side", ["left", "right", "both"])
def test_ordering_comparison_is_false_with_null(op: str, side: str) -> None:
    left, right = {
        "left": (F("missing"), L(1)),
        "right": (L(1), F("missing")),
        "both": (F("missing"), F("missing")),
    }[side]
    assert evaluate(B(op, left, right), {}) is False


@pytest.mark.parametrize(
    ("op", "expected"), [("<", True), ("<=", True), (">", False), (">=", False)]
)
def test_ordering_comparison_compares_values(op: str, expected: bool) -> None:
    assert evaluate(B(op, F("a"), L(2)), {"a": 1}) is expected


def test_negated_ordering_with_null_is_true() -> None:
    """`not (x > 1)` keeps a record without `x`: the comparison is false, its negation true."""
    assert evaluate(Unary("not", B(">", F("x"), L(1))), {}) is True


@pytest.mark.parametrize(
    ("expr", "record", "expected"),
    [
        (B("==", F("a"), L(None)), {}, True),
        (B("==", F("a"), L(None)), {"a": None}, True),
        (B("==", F("a"), L(None)), {"a": 0}, False),
        (B("!=", F("a"), L(None)), {}, False),
        (B("!=", F("a"), L(None)), {"a": ""}, True),
        (B("==", F("a"), F("b")), {}, True),
        (B("==", F("a"), L(1)), {}, False),
        (B("!=", F("a"), L(1)), {}, True),
        (B("==", F("a"), L("x")), {"a": "x"}, True),
    ],
    ids=[
        "missing-eq-null",
        "null-eq-null",
        "zero-not-null",
        "missing-ne-null",
        "empty-ne-null",
        "two-missing-equal",
        "null-ne-value",
        "null-ne-value-true",
        "strings-equal",
    ],
)
def test_equality_handles_null(expr: Expr, record: dict, expected: bool) -> None:
    assert evaluate(expr, record) is expected


# -- ??, in, =~, if, and/or ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({}, "default"),
        ({"a": None}, "default"),
        ({"a": 0}, 0),
        ({"a": False}, False),
        ({"a": ""}, ""),
        ({"a": "x"}, "x"),
    ],
)
def test_coalesce_takes_right_only_when_left_is_null(record: dict, expected: Any) -> None:
    assert evaluate(B("??", F("a"), L("default")), record) == expected


def test_coalesce_chains_to_first_non_null() -> None:
    expr = B("??", B("??", F("a"), F("b")), L(3))
    assert evaluate(expr, {"b": 2}) == 2
    assert evaluate(expr, {}) == 3


def test_coalesce_does_not_evaluate_right_when_left_is_present() -> None:
    expr = B("??", F("a"), B("/", L(1), L(0)))
    assert evaluate(expr, {"a": 5}) == 5


@pytest.mark.parametrize(
    ("needle", "haystack", "record", "expected"),
    [
        (F("a"), ListOf((L(1), L(2))), {"a": 2}, True),
        (F("a"), ListOf((L(1), L(2))), {"a": 3}, False),
        (F("a"), ListOf((L(1), L(2))), {}, False),
        (F("a"), ListOf((L(1), F("b"))), {"a": 5, "b": 5}, True),
        (F("a"), F("xs"), {"a": "y", "xs": ["x", "y"]}, True),
        (F("a"), F("xs"), {"a": "y"}, False),
        (L("k"), F("rec"), {"rec": {"k": 1}}, True),
        (L("ell"), F("text"), {"text": "hello"}, True),
        (F("a"), F("text"), {"text": "hello"}, False),
    ],
    ids=[
        "literal-list-hit",
        "literal-list-miss",
        "null-needle",
        "computed-list",
        "field-list",
        "null-container",
        "record-key",
        "substring",
        "null-in-string",
    ],
)
def test_in_tests_membership(needle: Expr, haystack: Expr, record: dict, expected: bool) -> None:
    assert evaluate(B("in", needle, haystack), record) is expected
    assert evaluate(B("not_in", needle, haystack), record) is (not expected)


def test_in_fails_on_a_container_that_is_not_a_collection() -> None:
    with pytest.raises(ExprError, match="`in` needs a list, record or string, got int"):
        evaluate(B("in", L(1), F("n")), {"n": 5})


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"page": "/checkout/pay"}, True),
        ({"page": "/home"}, False),
        ({"page": "/a/checkout"}, False),
        ({}, False),
        ({"page": None}, False),
    ],
)
def test_match_searches_regex_and_is_false_for_null(record: dict, expected: bool) -> None:
    assert evaluate(Match(F("page"), "^/checkout"), record) is expected


def test_match_finds_pattern_anywhere() -> None:
    assert evaluate(Match(F("s"), "b+c"), {"s": "aabbbcd"}) is True


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"a": 1}, "one"),
        ({"a": 2}, "other"),
        ({}, "other"),
    ],
)
def test_if_then_else_picks_branch_and_null_condition_is_false(record: dict, expected: str) -> None:
    expr = IfElse(B("==", F("a"), L(1)), L("one"), L("other"))
    assert evaluate(expr, record) == expected


def test_if_then_else_evaluates_only_the_chosen_branch() -> None:
    expr = IfElse(B("==", F("d"), L(0)), L(None), B("/", L(1), F("d")))
    assert evaluate(expr, {"d": 0}) is None
    assert evaluate(expr, {"d": 4}) == 0.25


@pytest.mark.parametrize(
    ("op", "a", "b", "expected"),
    [
        ("and", True, True, True),
        ("and", True, None, False),
        ("and", None, True, False),
        ("or", None, True, True),
        ("or", None, None, False),
        ("or", False, 1, True),
    ],
)
def test_and_or_give_booleans_with_null_as_false(op: str, a: Any, b: Any, expected: bool) -> None:
    assert evaluate(B(op, F("a"), F("b")), {"a": a, "b": b}) is expected


def test_not_of_null_is_true() -> None:
    assert evaluate(Unary("not", F("missing")), {}) is True


# -- literals and calls --------------------------------------------------------------------------


def test_list_and_record_literals_hold_computed_values() -> None:
    expr = RecordOf((("xs", ListOf((F("a"), L(2)))), ("odd key", B("+", F("a"), L(1)))))
    assert evaluate(expr, {"a": 1}) == {"xs": [1, 2], "odd key": 2}


def test_literal_that_is_not_plain_stays_the_same_value() -> None:
    assert evaluate(L(float("inf")), {}) == float("inf")
    assert evaluate(L([1, {"a": 2}]), {}) == [1, {"a": 2}]


def test_call_passes_null_and_function_returns_null() -> None:
    assert evaluate(Call("lower", (F("missing"),)), {}) is None
    assert evaluate(Call("lower", (F("s"),)), {"s": "AbC"}) == "abc"
    assert evaluate(Call("len", (F("xs"),)), {"xs": [1, 2, 3]}) == 3


def test_call_passes_keyword_arguments_by_name() -> None:
    expr = Call("echo", (L(1),), (("digits", L(2)), ("odd'name", F("a"))))
    assert evaluate(expr, {"a": "x"}) == [[1], {"digits": 2, "odd'name": "x"}]


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "error"),
    [
        (B("+", F("s"), F("n")), TypeError),
        (B("/", F("n"), L(0)), ZeroDivisionError),
        (B("//", F("n"), L(0)), ZeroDivisionError),
        (B("%", F("n"), L(0)), ZeroDivisionError),
        (B("<", F("s"), F("n")), TypeError),
        (Match(F("n"), "x"), TypeError),
    ],
    ids=["str-plus-int", "div-zero", "floordiv-zero", "mod-zero", "str-lt-int", "match-int"],
)
def test_type_mismatch_or_zero_division_raises(expr: Expr, error: type[Exception]) -> None:
    with pytest.raises(error):
        evaluate(expr, {"s": "a", "n": 1})


@pytest.mark.parametrize(
    ("fail", "reason"),
    [
        (lambda: 1 + "a", "cannot apply `+` to int and str"),
        (lambda: "a" + 1, "cannot apply `+` to str and int"),
        (lambda: "a" < 1, "cannot compare str with int using `<`"),
        (lambda: {} * 2, "cannot apply `*` to record and int"),
        (lambda: 1 / 0, "division by zero"),
    ],
)
def test_describe_error_speaks_the_language(fail, reason: str) -> None:
    with pytest.raises(Exception) as caught:
        fail()
    assert describe_error(caught.value) == reason
