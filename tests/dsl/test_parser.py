"""The parser, rule by rule: where statements end (newlines, brackets, pipes, comments), the
values of literals and their limits, error recovery (every broken statement is reported, at
its place), and the nesting limit. The parse goldens show whole trees; these pin single rules.
"""

from __future__ import annotations

import pytest

from rillet.dsl import ast
from rillet.dsl.parser import MAX_NESTING, parse
from tests.dsl.test_language_snippets import DECLARATIONS, FLOWS, TEST_BLOCK


def parse_ok(text: str) -> ast.Program:
    program, diagnostics = parse(text)
    assert diagnostics == []
    assert program is not None
    return program


def value_of(expression: str) -> ast.Expr:
    statement = parse_ok(f"param p = {expression}\n").statements[0]
    assert isinstance(statement, ast.ParamDecl)
    return statement.value


def errors_of(text: str) -> list[tuple[str, int, int]]:
    program, diagnostics = parse(text)
    assert program is None
    return [(d.code, d.span.line, d.span.col) for d in diagnostics if d.span is not None]


# -- where statements end --------------------------------------------------------------------


def test_newline_ends_a_statement() -> None:
    program = parse_ok("clicks | into a\nclicks | into b\n")
    assert [type(s) for s in program.statements] == [ast.Flow, ast.Flow]


def test_pipe_on_next_line_continues_the_flow_across_comments_and_blank_lines() -> None:
    program = parse_ok("clicks  # head\n\n  # a note\n\n  | where x   # why\n  | into a\n")
    (flow,) = program.statements
    assert isinstance(flow, ast.Flow)
    assert [type(op) for op in flow.ops] == [ast.WhereOp, ast.IntoOp]


def test_operator_on_a_line_without_pipe_is_a_new_statement_and_an_error() -> None:
    assert errors_of("clicks\n  where x\n") == [("E0002", 2, 9)]


def test_newlines_inside_parentheses_and_brackets_are_ignored() -> None:
    value = value_of("f(\n  1,\n\n  [2,\n   3]\n)")
    assert isinstance(value, ast.CallExpr)
    assert len(value.args) == 2


def test_newline_after_open_brace_and_before_close_brace_is_ignored() -> None:
    program = parse_ok("schema S {\n  a: int\n  b: str\n}\nparam r = {\n  a: 1,\n  b: 2\n}\n")
    schema, param = program.statements
    assert isinstance(schema, ast.SchemaDecl) and len(schema.fields) == 2
    assert isinstance(param, ast.ParamDecl) and isinstance(param.value, ast.RecordExpr)


def test_crlf_line_endings_parse_like_lf() -> None:
    text = "\n".join([DECLARATIONS, FLOWS, TEST_BLOCK])
    assert parse_ok(text.replace("\n", "\r\n")) == parse_ok(text)


def test_empty_and_comment_only_files_are_empty_programs() -> None:
    assert parse_ok("").statements == ()
    assert parse_ok("# nothing here\n\n   # still nothing\n").statements == ()


def test_keywords_can_name_fields_where_only_a_name_fits() -> None:
    program = parse_ok("clicks | select window, by, within | where within > 1 | into o\n")
    (flow,) = program.statements
    assert isinstance(flow, ast.Flow)
    select = flow.ops[0]
    assert isinstance(select, ast.SelectOp)
    assert [i.name.text for i in select.items] == ["window", "by", "within"]


# -- literals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("250ms", 250),
        ("10s", 10_000),
        ("5m", 300_000),
        ("1h", 3_600_000),
        ("1d", 86_400_000),
        ("1.5s", 1_500),
        ("0.25m", 15_000),
    ],
)
def test_duration_literal_is_milliseconds(text: str, ms: int) -> None:
    value = value_of(text)
    assert isinstance(value, ast.Literal)
    assert (value.kind, value.value) == ("duration", ms)


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("42", "int", 42),
        ("007", "int", 7),
        ("2.5", "float", 2.5),
        ("1e3", "float", 1000.0),
        ("true", "bool", True),
        ("false", "bool", False),
        ("null", "null", None),
        ('"x"', "str", "x"),
        ("9223372036854775807", "int", 2**63 - 1),
    ],
)
def test_literal_has_its_kind_and_value(text: str, kind: str, expected: object) -> None:
    value = value_of(text)
    assert isinstance(value, ast.Literal)
    assert (value.kind, value.value) == (kind, expected)


def test_string_escapes_follow_json_and_keep_other_backslashes() -> None:
    value = value_of(r'"a\"b\\c\n\t\u00e9 \d+ \/"')
    assert isinstance(value, ast.Literal)
    assert value.value == 'a"b\\c\n\té \\d+ /'


@pytest.mark.parametrize(
    "text", ["9223372036854775808", "1" * 5000, "106751991167301d", "9" * 400 + "s", "1e400"]
)
def test_literal_out_of_range_is_an_error_not_a_crash(text: str) -> None:
    program, diagnostics = parse(f"param p = {text}\n")
    assert program is None
    assert [(d.code, d.span) for d in diagnostics] == [("E0005", diagnostics[0].span)]
    assert diagnostics[0].span is not None
    assert (diagnostics[0].span.line, diagnostics[0].span.col) == (1, 11)
    assert len(diagnostics[0].message) < 80


def test_concurrency_out_of_range_is_an_error_not_a_crash() -> None:
    assert errors_of("clicks | f() concurrency 99999999999999999999 | into o\n") == [
        ("E0005", 1, 26)
    ]


def test_non_ascii_digits_are_not_numbers() -> None:
    assert errors_of("param p = \u0663\n") == [("E0001", 1, 11)]


# -- precedence ------------------------------------------------------------------------------


def _shape(expr: ast.Expr) -> object:
    match expr:
        case ast.BinaryExpr(op=op, left=left, right=right):
            return (op, _shape(left), _shape(right))
        case ast.UnaryExpr(op=op, operand=operand):
            return (op, _shape(operand))
        case ast.NameRef(name=name):
            return name
        case ast.Literal(value=value):
            return value
        case ast.MatchExpr(operand=operand, pattern=pattern):
            return ("=~", _shape(operand), pattern.value)
    return type(expr).__name__


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        ("a or b and c", ("or", "a", ("and", "b", "c"))),
        ("not a and b", ("and", ("not", "a"), "b")),
        ("not a == b", ("not", ("==", "a", "b"))),
        ("a == b ?? c", ("==", "a", ("??", "b", "c"))),
        ("a ?? b + c", ("??", "a", ("+", "b", "c"))),
        ("a - b - c", ("-", ("-", "a", "b"), "c")),
        ("a + b * c", ("+", "a", ("*", "b", "c"))),
        ("a // b % c", ("%", ("//", "a", "b"), "c")),
        ("-a * b", ("*", ("-", "a"), "b")),
        ("a not in b or c in d", ("or", ("not_in", "a", "b"), ("in", "c", "d"))),
        ('a ?? b =~ "x"', ("=~", ("??", "a", "b"), "x")),
    ],
)
def test_operators_group_by_precedence(text: str, shape: object) -> None:
    assert _shape(value_of(text)) == shape


def test_field_path_and_this_index_nest_left_to_right() -> None:
    value = value_of('this["odd key"].inner[0]')
    assert isinstance(value, ast.IndexAccess)
    assert isinstance(value.target, ast.FieldAccess)
    assert value.target.name.text == "inner"
    assert isinstance(value.target.target, ast.IndexAccess)
    assert isinstance(value.target.target.target, ast.This)


# -- errors ----------------------------------------------------------------------------------


def test_every_broken_statement_is_reported() -> None:
    text = "param = 1\nparam ok = 2\nsource s = \nparam also_ok = 3\nclicks | where\n"
    assert errors_of(text) == [("E0002", 1, 7), ("E0002", 3, 12), ("E0002", 5, 15)]


def test_syntax_errors_stop_after_twenty() -> None:
    program, diagnostics = parse("param = 1\n" * 50)
    assert program is None
    assert len(diagnostics) == 20


def test_misspelled_operator_gets_did_you_mean() -> None:
    program, diagnostics = parse("clicks\n  | dedup by user within 1m\n  | into out\n")
    assert program is None
    (d,) = diagnostics
    assert (d.code, d.message, d.label) == (
        "E0004",
        "unknown operator `dedup`",
        "did you mean `dedupe`?",
    )
    assert d.span is not None and (d.span.line, d.span.col, d.span.end_col) == (2, 5, 10)


def test_expected_terminals_are_those_the_parser_accepts() -> None:
    _, diagnostics = parse("param = 3\n")
    (d,) = diagnostics
    assert (d.message, d.label) == ("unexpected `=`", "expected a name")


@pytest.mark.parametrize(
    "text", ["clicks | where status = 200 | into out\n", "param ok = status = 200\n"]
)
def test_single_equals_where_a_comparison_may_come_suggests_double(text: str) -> None:
    _, diagnostics = parse(text)
    (d,) = diagnostics
    assert (d.code, d.message, d.label) == ("E0002", "unexpected `=`", "did you mean `==`?")
    assert d.span is not None and text[d.span.col - 1] == "="


def test_assignment_equals_is_not_taken_for_a_comparison() -> None:
    assert parse("clicks | derive x = 1 | select y = x | into out\n")[1] == []


@pytest.mark.parametrize(
    ("text", "col", "end_col"),
    [
        ('clicks | where page == "/home | into out\n', 24, 41),
        ('param p = "abc\r\nparam q = 1\n', 11, 15),
        ('param p = "a\\"', 11, 15),  # the escaped quote does not close it; no newline at the end
    ],
)
def test_unterminated_string_is_named_at_its_opening_quote(
    text: str, col: int, end_col: int
) -> None:
    _, diagnostics = parse(text)
    (d,) = diagnostics
    assert (d.code, d.message, d.label) == (
        "E0001",
        "unterminated string",
        'no closing `"` on this line',
    )
    assert d.span is not None and (d.span.line, d.span.col, d.span.end_col) == (1, col, end_col)


def test_expected_expression_is_named_as_such() -> None:
    _, diagnostics = parse("clicks | where status == | into out\n")
    (d,) = diagnostics
    assert d.label == "expected an expression"


@pytest.mark.parametrize(
    ("char", "shown"), [("\x00", "\\x00"), ("\r", "\\r"), ("$", "$"), ("\u2028", "\\u2028")]
)
def test_unexpected_character_is_shown_escaped_when_invisible(char: str, shown: str) -> None:
    _, diagnostics = parse(f"param p = 1 {char} 2\n")
    assert diagnostics[0].code == "E0001"
    assert diagnostics[0].message == f"unexpected character `{shown}`"


def test_unexpected_end_of_file_points_after_the_last_text() -> None:
    _, diagnostics = parse("param p = (1 +\n\n\n")
    (d,) = diagnostics
    assert d.code == "E0003"
    assert d.span is not None and (d.span.line, d.span.col) == (1, 15)


def test_long_unexpected_token_is_shortened_in_the_message() -> None:
    _, diagnostics = parse('param p = 1 "' + "x" * 500 + '"\n')
    assert len(diagnostics[0].message) < 60


@pytest.mark.parametrize(
    "make",
    [
        lambda n: "x" + " + 1" * n,
        lambda n: "-" * n + "x",
        lambda n: "[" * n + "]" * n,
        lambda n: "not " * n + "x",
        lambda n: "f(" * n + ")" * n,
    ],
    ids=["sum-chain", "negations", "lists", "nots", "calls"],
)
def test_nesting_beyond_the_limit_is_an_error_not_a_crash(make) -> None:
    parse_ok(f"param p = {make(MAX_NESTING // 4)}\n")
    program, diagnostics = parse(f"param p = {make(2000)}\n")
    assert program is None
    assert [d.code for d in diagnostics] == ["E0006"]


def test_deeply_parenthesized_expression_is_not_nested() -> None:
    value = value_of("(" * 1000 + "x" + ")" * 1000)
    assert value == ast.NameRef(name="x", span=value.span)


@pytest.mark.parametrize(
    ("text", "col", "fixed"),
    [
        ("a ?? if c then 1 else 2", 16, "a ?? (if c then 1 else 2)"),
        ("1 + not x", 15, "1 + (not x)"),
        ("-if c then 1 else 2", 12, "-(if c then 1 else 2)"),
    ],
)
def test_if_or_not_inside_an_operand_points_at_the_keyword(text: str, col: int, fixed: str) -> None:
    _, diagnostics = parse(f"param p = {text}\n")
    (d,) = diagnostics
    assert d.message.endswith("cannot start an operand here")
    assert d.span is not None and d.span.col == col
    parse_ok(f"param p = {fixed}\n")


def test_surrogate_pair_escape_is_one_character() -> None:
    value = value_of(r'"\ud83d\ude00 \u00e9"')
    assert isinstance(value, ast.Literal)
    assert value.value == "\U0001f600 é"


def test_lone_surrogate_escape_is_an_error_not_a_crash() -> None:
    assert errors_of('param p = "a \\ud800 b"\nuse "\\udc00.py"\n') == [
        ("E0007", 1, 11),
        ("E0007", 2, 5),
    ]
