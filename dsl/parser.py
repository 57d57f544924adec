"""Pipeline text to syntax tree (`ast.Program`), or syntax diagnostics.

A LALR(1) parser from `grammar.lark`. Newlines end statements except where the language says a
statement goes on (open brackets, a next line starting with `|`); the `_Newlines` postlexer
applies those rules so the grammar can stay plain. After a syntax error, parsing resumes at the
next line that starts a statement, so one run reports every broken statement.

The tree is built by `treebuild.py`. Some text parses yet cannot become a tree, and is reported
here too, never raised: numbers and durations beyond 64 bits, `\\u` escapes that are not
characters (both found while building), and nesting deeper than `MAX_NESTING` (the later
phases are recursive).

Comments are not part of the tree, but a `# rillet: allow CODE` comment silences a warning
(`silence.py`): `parse_with_comments` hands them on, collected by a lexer callback
(`comment.py`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.lark import PostLex
from lark.parsers.lalr_parser_state import ParserState

from rillet.runtime.plan import Span

from . import ast
from ._grammarcache import cache_file
from .comment import Comment, collect_comments, keep_comments
from .diagnostic import Diagnostic, did_you_mean, error
from .exprtree import shorten, token_span
from .treebuild import ToAst

_OPENERS = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}
_CLOSERS = {"RPAR", "RSQB", "RBRACE"}
_MAX_SYNTAX_ERRORS = 20
# Nesting deeper than this is refused: the later phases walk the tree recursively, and a
# left-nested chain like `1 + 1 + ... + 1` of many hundred terms would exhaust Python's stack.
MAX_NESTING = 64  # keeps generated Python within its parser's 200 nested brackets
OPERATORS = (
    "where",
    "select",
    "derive",
    "drop",
    "explode",
    "event_time",
    "window",
    "aggregate",
    "rolling",
    "top",
    "dedupe",
    "join",
    "lookup",
    "late",
    "into",
    "emit",
)


class _Newlines(PostLex):
    """Drops the newlines inside ( ) and [ ], and those right after `{` or `,`.

    It never looks ahead: the contextual lexer lexes each token in the parser state the previous
    token left, so holding a token back would lex the next one in the wrong state.
    """

    always_accept = ("_NL",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        brackets: list[str] = []
        previous: Token | None = None
        for token in stream:
            if token.type == "_NL":
                if brackets and brackets[-1] != "LBRACE":
                    continue
                if previous is None or previous.type in ("LBRACE", "COMMA"):
                    continue
            elif token.type in _OPENERS:
                brackets.append(token.type)
            elif token.type in _CLOSERS and brackets:
                brackets.pop()
            previous = token
            yield token


def build_lark(**options: Any) -> Lark:
    """The grammar's parser with what every reader of it shares; `options` add a reader's own
    (the formatter keeps every token). The tables are cached per reader (`_grammarcache.py`)."""
    grammar = resources.files("rillet.dsl").joinpath("grammar.lark").read_text()
    reader = "-".join(sorted(options)) or "plain"
    return Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        postlex=_Newlines(),
        propagate_positions=True,
        maybe_placeholders=True,
        cache=cache_file(grammar, reader),
        **options,
    )


@cache
def _lark() -> Lark:
    return build_lark(
        lexer_callbacks=dict.fromkeys(("COMMENT", "_NL", "CONTINUATION"), keep_comments)
    )


_READABLE = {
    "NAME": "a name",
    "STRING": "a string",
    "INT": "an integer",
    "FLOAT": "a number",
    "DURATION": "a duration like `10s`",
    "_NL": "end of line",
    "$END": "end of file",
    "COMPARE": "a comparison",
    "ADD_OP": "`+`, `-`",
    "MUL_OP": "`*`, `/`, `//`, `%`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "COMMA": "`,`",
    "VBAR": "`|`",
    "EQUAL": "`=`",
    "COLON": "`:`",
    "DOT": "`.`",
    "OPTIONAL": "`?`",
    "ORDERED": "`ordered`",
    "PERCENT": "a percentage like `80%`",
}


def _readable(terminal: str) -> str:
    if terminal in _READABLE:
        return _READABLE[terminal]
    pattern = _lark().get_terminal(terminal).pattern
    return f"`{pattern.value}`" if pattern.type == "str" else terminal.lower()


# Where any expression or any operator may come, say so instead of listing what starts one:
# a group is named when all of its core terminals are expected; it then takes its extras too.
_GROUPS = {
    "an expression": (
        frozenset(
            {
                "DURATION",
                "FALSE",
                "FLOAT",
                "INT",
                "LBRACE",
                "LPAR",
                "LSQB",
                "MINUS",
                "NAME",
                "NULL",
                "STRING",
                "THIS",
                "TRUE",
            }
        ),
        frozenset({"IF", "NOT"}),
    ),
    "an operator": (
        frozenset(
            {
                "AGGREGATE",
                "DEDUPE",
                "DERIVE",
                "DROP",
                "EMIT",
                "EVENT_TIME",
                "EXPLODE",
                "INTO",
                "JOIN",
                "LATE",
                "LOOKUP",
                "NAME",
                "ROLLING",
                "SELECT",
                "TOP",
                "WHERE",
                "WINDOW",
            }
        ),
        frozenset(),
    ),
}


def _expected(names: set[str]) -> str:
    groups = [word for word, (core, _) in _GROUPS.items() if core <= names]
    for word in groups:
        names = names - _GROUPS[word][0] - _GROUPS[word][1]
    words = groups + sorted({_readable(n) for n in names if not n.startswith("__")})
    if len(words) > 8:
        words = words[:8] + ["..."]
    return ", ".join(words)


def _accepted(exc: UnexpectedToken) -> set[str]:
    """The terminals the parser could take where it stopped. When the contextual lexer raised
    the error, lark's `expected` is what that lexer matches, which always includes `_NL`
    (`always_accept`), so the parse table is asked instead."""
    state = exc.state
    if isinstance(state, ParserState):
        return {t for t in state.parse_conf.states[state.position] if t.isupper()}
    return set(exc.expected)


def _keyword_as_operand(exc: UnexpectedToken) -> Token | None:
    """`1 + if c then a else b`, `a ?? not b`: where `if` and `not` cannot come, the contextual
    lexer reads them as names, and the error would point at the token after them."""
    state = exc.state
    if not isinstance(state, ParserState) or not state.value_stack:
        return None
    *before, last = state.value_stack
    after_dot = bool(before) and isinstance(before[-1], Token) and before[-1].type == "DOT"
    if isinstance(last, Token) and last.type == "NAME" and last in ("if", "not") and not after_dot:
        return last
    return None


_STRING = re.compile(r'"([^"\\\n]|\\.)*"')


def _syntax_diagnostic(exc: UnexpectedInput, text: str) -> Diagnostic:
    if isinstance(exc, UnexpectedCharacters):
        return _unexpected_character(exc, text)
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        return _unexpected_token(exc, text)
    # the caret goes right after the last thing written, not on the trailing blank lines
    lines = text.rstrip().split("\n")
    end = Span(len(lines), len(lines[-1]) + 1, len(lines), len(lines[-1]) + 2)
    accepted_at_end = _accepted(exc) if isinstance(exc, UnexpectedToken) else None
    label = f"expected {_expected(accepted_at_end)}" if accepted_at_end else ""
    return error(
        "E0003", "unexpected end of file", end, label, "a bracket or block may be left open"
    )


def _unexpected_character(exc: UnexpectedCharacters, text: str) -> Diagnostic:
    at = exc.pos_in_stream or 0
    char = text[at] if at < len(text) else ""
    if char == '"' and not _STRING.match(text, at):
        # the lexer cannot read a string without its closing quote, and would blame the
        # opening one as a stray character
        rest = text[at:].split("\n", 1)[0].removesuffix("\r")
        span = Span(exc.line, exc.column, exc.line, exc.column + len(rest))
        return error(
            "E0001",
            "unterminated string",
            span,
            'no closing `"` on this line',
            "a string ends on the line it starts; write a line break in it as `\\n`",
        )
    shown = char if char.isprintable() else ascii(char)[1:-1]
    span = Span(exc.line, exc.column, exc.line, exc.column + 1)
    return error("E0001", f"unexpected character `{shown}`", span, "not valid here")


def _unexpected_token(exc: UnexpectedToken, text: str) -> Diagnostic:
    token = exc.token
    keyword = _keyword_as_operand(exc)
    if keyword is not None:
        form = "if ... then ... else ..." if keyword == "if" else "not ..."
        return error(
            "E0002",
            f"`{keyword}` cannot start an operand here",
            token_span(keyword),
            f"write `({form})` in parentheses",
            "`if` and `not` bind more loosely than arithmetic, comparisons and `??`",
        )
    before = text.split("\n")[token.line - 1][: token.column - 1]
    operator = re.search(r"\|\s*([A-Za-z_]\w*)\s*$", before)
    if operator and operator.group(1) not in OPERATORS:
        return _unknown_operator(operator, token.line)
    found = "end of line" if token.type == "_NL" else f"`{shorten(str(token))}`"
    span = token_span(token)
    if token.type == "_NL":
        span = Span(token.line, token.column, token.line, token.column + 1)
    accepted = _accepted(exc)
    if token.type == "EQUAL" and "COMPARE" in accepted:  # `where status = 200`
        return error(
            "E0002",
            "unexpected `=`",
            span,
            "did you mean `==`?",
            "`==` compares; `=` gives a name its value, as in `derive x = ...`",
        )
    expected = _expected(accepted)
    hints: tuple[str, ...] = ()
    if token.type == "AS":  # `window tumbling 10s as w`, `into out as w`
        hints = (
            "`as` names a step; `window`, `into` and `late into` take no name (name "
            "the `aggregate` after a `window`)",
        )
    return error("E0002", f"unexpected {found}", span, f"expected {expected}", *hints)


def _unknown_operator(operator: re.Match[str], line: int) -> Diagnostic:
    name = operator.group(1)
    start = operator.start(1) + 1
    span = Span(line, start, line, start + len(name))
    close = did_you_mean(name, OPERATORS)
    label = f"did you mean `{close}`?" if close else "not an operator"
    return error(
        "E0004",
        f"unknown operator `{name}`",
        span,
        label,
        "a plugin operator is called with parentheses: `name(arg=value)`",
    )


def _next_statement_line(lines: list[str], after: int) -> int | None:
    """The 0-based index of the first line after line `after` (1-based) that starts a statement:
    not indented, not a comment, not a continuation."""
    for index in range(after, len(lines)):
        line = lines[index]
        if line and not line[0].isspace() and line[0] not in "#|})]":
            return index
    return None


def _too_deep(tree: Tree) -> Diagnostic | None:
    """An error at the first subtree nested deeper than `MAX_NESTING` (found without
    recursion, since recursion is what such a tree would break)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            meta = node.meta
            span = None if meta.empty else Span(meta.line, meta.column, meta.line, meta.column + 1)
            return error(
                "E0006",
                "expression is nested too deeply",
                span,
                f"more than {MAX_NESTING} levels",
                "split it into several `derive` steps or `param`s",
            )
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))
    return None


def parse(text: str) -> tuple[ast.Program | None, list[Diagnostic]]:
    """The program, or None with every syntax error found."""
    program, diagnostics, _ = parse_with_comments(text)
    return program, diagnostics


def parse_with_comments(
    text: str,
) -> tuple[ast.Program | None, list[Diagnostic], tuple[Comment, ...]]:
    """As `parse`, with the file's comments when it parsed (none otherwise)."""
    with collect_comments() as comments:
        program, diagnostics = _parse(text)
    return program, diagnostics, comments() if program is not None else ()


def _parse(text: str) -> tuple[ast.Program | None, list[Diagnostic]]:
    diagnostics: list[Diagnostic] = []
    lines = text.split("\n")
    attempt = text
    while len(diagnostics) < _MAX_SYNTAX_ERRORS:
        try:
            tree = _lark().parse(attempt)
        except UnexpectedInput as exc:
            diagnostics.append(_syntax_diagnostic(exc, attempt))
            line = exc.line if isinstance(exc.line, int) and exc.line > 0 else len(lines)
            resume = _next_statement_line(lines, line)
            if resume is None:
                break
            attempt = "\n" * resume + "\n".join(lines[resume:])
            continue
        if diagnostics:
            break
        deep = _too_deep(tree)
        if deep is not None:
            return None, [deep]
        transformer = ToAst()
        program = transformer.transform(tree)
        if transformer.problems:
            return None, transformer.problems
        return program, []
    return None, diagnostics


__all__ = ["OPERATORS", "parse", "parse_with_comments"]
