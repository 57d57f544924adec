"""`=~` through RE2 (runtime/regex.py): patterns that make a backtracking engine run for
minutes answer at once, the fast path answers as the binding's own `search` does, and the
patterns RE2 cannot run are refused with the construct named."""

from __future__ import annotations

import re

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from rillet.runtime.plan import Field, Match, Where
from rillet.runtime.regex import problem, searcher
from rillet.runtime.stage import compile_stage

# Python's `re` needs about 2**n steps for these on n characters: minutes at 33
CATASTROPHIC = ["^(a+)+$", "^(a|a)*$", "(x+x+)+y", "^(\\w+\\s?)*$"]


@pytest.mark.timeout(10)  # with a backtracking engine, these would run for hours
@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_a_pattern_that_backtracks_forever_elsewhere_answers_at_once(pattern: str) -> None:
    stage = compile_stage([Where(Match(Field(("s",)), pattern))], {})
    records = [{"s": c * n + "!"} for c in "ax" for n in (33, 5000, 100_000)]
    out, _ = stage.run(records, range(6), lambda *failure: pytest.fail(repr(failure)))
    assert out == []


PATTERNS = [
    "^/checkout",
    "b+c",
    "é",
    "^$",
    "x$",
    "(?i)straße",
    "\\d{2,}",
    "[^a-z]",
    "\\bend\\b",
    "^.{3}$",
    "\\p{Greek}+",
    "(?s)a.b",
    "(?m)^b",
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PATTERNS), st.text(alphabet="abcxé/\n 0123ß€Ωend", max_size=12))
def test_the_fast_path_answers_as_the_bindings_search(pattern: str, text: str) -> None:
    assert searcher(pattern)(text) is (re2.search(pattern, text) is not None)


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("^/checkout", "/checkout/pay", True),
        ("^/checkout", "/a/checkout", False),
        ("é$", "café", True),
        ("^.$", "€", True),
        ("^..$", "€", False),  # characters, not bytes
        ("x", "a\udc80x", True),  # a lone surrogate (from a JSON `\udc80`) is not an error
    ],
)
def test_matches_characters_anywhere(pattern: str, text: str, expected: bool) -> None:
    assert searcher(pattern)(text) is expected
    assert (re.search(pattern, text) is not None) is expected  # as Python's `re` would


@pytest.mark.parametrize("pattern", ["a", "^a$", "a+"], ids=["literal", "whole", "re2"])
@pytest.mark.parametrize("value", [5, 2.5, True, ["a"], {"a": 1}, b"a"])
def test_a_value_that_is_not_text_is_an_error(pattern: str, value: object) -> None:
    with pytest.raises(TypeError, match="`=~` matches text, got "):
        searcher(pattern)(value)


LITERALS = st.builds(  # plain text, maybe escaped and anchored: answered by string methods
    lambda start, parts, end: start + "".join(parts) + end,
    st.sampled_from(["", "^"]),
    st.lists(st.sampled_from(["a", "b", "/", "é", " ", "\\.", "\\$", "\\\\", "-"]), max_size=4),
    st.sampled_from(["", "$"]),
)


@settings(max_examples=500, deadline=None)
@given(LITERALS, st.text(alphabet="ab/é .$\\-\n", max_size=8))
def test_plain_text_patterns_answer_as_re2_does(pattern: str, text: str) -> None:
    assert searcher(pattern)(text) is (re2.search(pattern, text) is not None)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("(a)\\1", "a backreference cannot be used"),
        ("(?P<x>a)(?P=x)", "a backreference cannot be used"),
        ("(?=a)", "a lookahead cannot be used"),
        ("^(?!/admin)", "a negative lookahead cannot be used"),
        ("(?<=a)b", "a lookbehind cannot be used"),
        ("(?<!a)b", "a lookbehind cannot be used"),
        ("(?>a+)", "an atomic group cannot be used"),
        ("a*+", "a possessive quantifier cannot be used"),
        ("(?(1)a|b)", "a conditional cannot be used"),
        ("a\\Z", "`\\Z` cannot be used"),
        ("\\C", "`\\C` cannot be used"),
        ("(?x) a", "the flag `(?x)` cannot be used"),
        ("(", "invalid regular expression"),
        ("a{1001}", "invalid regular expression"),
        ("\\pL{1000}", "regular expression too large"),
    ],
)
def test_patterns_re2_cannot_run_are_refused_with_the_construct_named(
    pattern: str, message: str
) -> None:
    refused = problem(pattern)
    assert refused is not None and refused.message.startswith(message)
    assert refused.label
    with pytest.raises(ValueError):
        searcher(pattern)


def test_backtracking_constructs_are_explained() -> None:
    refused = problem("(a)\\1")
    assert refused is not None
    assert any("linear" in hint for hint in refused.hints)
    assert problem("^(a+)+$") is None and problem("\\\\C") is None
