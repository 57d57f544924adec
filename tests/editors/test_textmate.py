"""The TextMate grammar colours `.rill` files as the parser reads them.

Every token of the examples, the benchmarks and the valid pipelines among the tests is lexed
by rillet's own parser and looked up in VS Code's real tokenizer: a keyword must be coloured as
a keyword, a name as a name, a duration as a duration, and so on; targeted snippets pin the
scopes a theme relies on, and the grammar's keywords are kept equal to `dsl/grammar.lark`'s.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from lark import Token
from lark.lexer import PatternStr

from rillet.dsl.parser import _lark, parse
from tests.conftest import REPO
from tests.editors.conftest import EDITOR, TmToken, Tokenize

GRAMMAR = EDITOR / "syntaxes" / "rill.tmLanguage.json"
PIPELINES = sorted((REPO / "examples").glob("*.rill")) + sorted((REPO / "bench").glob("*.rill"))
# every other pipeline in the tests that parses (some are there to show syntax errors)
TEST_PIPELINES = sorted(
    path for path in (REPO / "tests").rglob("*.rill") if not parse(path.read_text())[1]
)
# the pipelines the documentation shows (every one of them parses)
DOC_BLOCKS = [
    (f"{doc.name}#{number}", block)
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    for number, block in enumerate(re.findall(r"```rill\n(.*?)```", doc.read_text(), re.S))
    if not parse(block)[1]
]
# a pipeline using every construct, so each rule of the grammar meets the parser at least once
TOUR = """\
use "plugins/geo.py"
use geo.ip
param limit = -2.5e3 ?? 1
set checkpoint_interval = 1.5s
schema Bid { auction: int, tags: list[str]?, price: float }  # a | in a comment
source bids: Bid = file("bids.jsonl", format="lines")
table  users = file("users.csv", key="user")
sink   out = stdout()
errors into out
alert slow when backpressure >= 80% for 30s
stream top_bids = union(bids, bids)
  | event_time ts lateness 2s idle 30s
  | window sliding 1m every 10s emit every 5s
  | top 3 by price desc, ts asc per auction as best
top_bids | window session gap 30m | aggregate by auction { n = count(), b = max_by(x, price) }
  | into out
bids | rolling last 10 by auction { avg_price = avg(price) } | late into out
bids | dedupe by auction within 1h | left join bids on auction = auction, ts within 5s
  | lookup users on bidder | emit every 10s
bids | where if this["odd key"] != null then not (price in [1, 2.5]) else price // 2 % 3 > 1
  | select auction, half = price / 2, both = [auction, {a: 1, "b": true}][0]
  | derive r = {x: false}.x, s = "a \\"q\\" \\u00e9\\n" + "\\\\d" \\
      , m = tags =~ "^[a-z]+\\.$" | drop tags | explode tags as tag
  | geo_lookup(ip, mode="city") concurrency 4 as located | into out

test "best bids" {
  given bids = [{auction: 1, price: 2.0}]
  expect ordered out = []
}
"""


def _keyword_terminals() -> dict[str, str]:
    """The parser's keywords: terminal name -> word (`"where"`, `ASC: "asc"`, ...)."""
    return {
        terminal.name: terminal.pattern.value
        for terminal in _lark().terminals
        if isinstance(terminal.pattern, PatternStr)
        and re.fullmatch(r"[a-z_]+", terminal.pattern.value)
    }


def _duration_units() -> set[str]:
    (duration,) = (t for t in _lark().terminals if t.name == "DURATION")
    units = re.search(r"\(((?:[a-z]+\|)*[a-z]+)\)", duration.pattern.value)
    assert units is not None, duration.pattern.value
    return set(units.group(1).split("|"))


def _regexes(rule: object) -> list[str]:
    """Every regex of the grammar (its `match`, `begin`, `end` and `while` strings)."""
    if isinstance(rule, dict):
        found = [value for key, value in rule.items() if key in ("match", "begin", "end", "while")]
        return found + [regex for value in rule.values() for regex in _regexes(value)]
    if isinstance(rule, list):
        return [regex for value in rule for regex in _regexes(value)]
    return []


def _literal_words(regex: str) -> set[str]:
    """The words a regex spells out, leaving aside escapes (`\\b`, `\\w`) and `[...]` classes."""
    plain = re.sub(r"\[[^\]]*\]", "", re.sub(r"\\.", "", regex))
    return set(re.findall(r"[A-Za-z_]+", plain))


def _expected_scope(
    token: Token, following: Token | None, keywords: dict[str, str]
) -> tuple[str, ...]:
    """The scope prefixes a parser token may be coloured with (empty: not checked)."""
    if token.type in keywords:
        word = keywords[token.type]
        if word in ("true", "false", "null"):
            return ("constant.language",)
        return ("variable.language",) if word == "this" else ("keyword",)
    if token.type == "NAME":
        # `left join`: the word before `join` is a name to the parser, a keyword to the eye
        if following is not None and following.value == "join":
            return ("keyword.other",)
        return ("entity.name", "variable")
    by_type = {
        "DURATION": ("constant.numeric.duration",),
        "PERCENT": ("constant.numeric.percentage",),
        "INT": ("constant.numeric.integer",),
        "FLOAT": ("constant.numeric.float",),
        "STRING": ("string.quoted.double",),
        "COMPARE": ("keyword.operator.comparison",),
        "ADD_OP": ("keyword.operator.arithmetic",),
        "MUL_OP": ("keyword.operator.arithmetic",),
        "VBAR": ("keyword.operator.pipe",),
        "EQUAL": ("keyword.operator.assignment",),
        "OPTIONAL": ("keyword.operator.optional",),
    }
    by_value = {"=~": "keyword.operator.match", "??": "keyword.operator.coalesce"}
    if token.value in by_value:
        return (by_value[token.value],)
    if token.value == "-":
        return ("keyword.operator.arithmetic",)
    return by_type.get(token.type, ())


def _at(tokens: list[TmToken], line: int, column: int) -> TmToken:
    """The TextMate token covering a 0-based position."""
    for token in tokens:
        if token.line == line and token.start <= column < token.start + len(token.text):
            return token
    raise AssertionError(f"no token at {line + 1}:{column + 1}")


def _miscoloured(text: str, tokens: list[TmToken]) -> list[str]:
    """Where the TextMate colours disagree with the parser's tokens and with the comments."""
    keywords = _keyword_terminals()
    parsed = [t for t in _lark().parse_interactive(text).iter_parse() if t.type != "_NL"]
    wrong = []
    for token, following in zip(parsed, [*parsed[1:], None]):
        expected = _expected_scope(token, following, keywords)
        tm = _at(tokens, token.line - 1, token.column - 1)
        innermost = tm.scopes if token.type == "STRING" else tm.scopes[-1:]
        if expected and not any(s.startswith(expected) for s in innermost):
            wrong.append(f"{token.line}:{token.column} {token.value!r} {tm.scopes[1:]}")
    for number, line in enumerate(text.splitlines()):
        comment = re.match(r'(?:[^"#]|"(?:[^"\\]|\\.)*")*(?=#)', line)
        if comment and not _at(tokens, number, comment.end()).has("comment.line.number-sign"):
            wrong.append(f"{number + 1}: comment {line[comment.end() :]!r}")
    return wrong


def _first(tokens: list[TmToken], text: str, after: int = 0) -> TmToken:
    """The first token spelled `text` on or after 0-based line `after`."""
    return next(t for t in tokens if t.text == text and t.line >= after)


@pytest.mark.parametrize("path", PIPELINES, ids=lambda path: path.name)
def test_pipeline_coloured_as_parsed(tokenize: Tokenize, path: Path) -> None:
    (tokens,) = tokenize(path)
    assert _miscoloured(path.read_text(), tokens) == []


def test_test_pipelines_coloured_as_parsed(tokenize: Tokenize) -> None:
    assert len(TEST_PIPELINES) > 20
    found = tokenize(*TEST_PIPELINES)
    wrong = {
        str(path.relative_to(REPO)): _miscoloured(path.read_text(), tokens)
        for path, tokens in zip(TEST_PIPELINES, found)
    }
    assert {path: spots for path, spots in wrong.items() if spots} == {}


def test_documented_pipelines_coloured_as_parsed(tokenize: Tokenize) -> None:
    assert len(DOC_BLOCKS) > 20
    found = tokenize(*(block for _, block in DOC_BLOCKS))
    wrong = {name: _miscoloured(block, tokens) for (name, block), tokens in zip(DOC_BLOCKS, found)}
    assert {name: spots for name, spots in wrong.items() if spots} == {}


def test_every_construct_coloured_as_parsed(tokenize: Tokenize) -> None:
    assert parse(TOUR)[0] is not None
    (tokens,) = tokenize(TOUR)
    assert _miscoloured(TOUR, tokens) == []


def test_keywords_used_as_names_coloured_as_names(tokenize: Tokenize) -> None:
    text = """\
param stream = "clicks"
source window = file(stream)
sink late = stdout()
window
  | select user,   # a comment after a comma | where the select goes on
      by, in_ = this["in"]
  | derive window = 1, every = {in: by}.in
  | where window > 0 as by
  | into late
"""
    assert parse(text)[0] is not None
    (tokens,) = tokenize(text)
    assert _miscoloured(text, tokens) == []
    assert _first(tokens, "by", after=5).scopes[-1] == "variable.other.rill"


def test_keyword_scopes(tokenize: Tokenize) -> None:
    (tokens,) = tokenize('source clicks = file("c.jsonl")\nclicks | where x | into out\n')
    assert _first(tokens, "source").scopes[-1] == "keyword.other.declaration.rill"
    assert _first(tokens, "where").scopes[-1] == "keyword.control.step.rill"
    assert _first(tokens, "|").scopes[-1] == "keyword.operator.pipe.rill"


def test_duration_scopes(tokenize: Tokenize) -> None:
    (tokens,) = tokenize("set batch_timeout = 500ms\nc | window tumbling 10m | into o\n")
    assert _first(tokens, "500ms").scopes[-1] == "constant.numeric.duration.rill"
    assert _first(tokens, "10m").scopes[-1] == "constant.numeric.duration.rill"


def test_string_escapes_coloured_and_other_backslashes_kept(tokenize: Tokenize) -> None:
    (tokens,) = tokenize('c | derive s = "say \\"hi\\"\\u00e9 \\d" | into o\n')
    escapes = [t.text for t in tokens if t.has("constant.character.escape")]
    assert escapes == ['\\"', '\\"', "\\u00e9"]
    assert all(t.has("string.quoted.double") for t in tokens if t.text in ('\\"', " \\d"))


def test_comment_with_pipe_is_all_comment(tokenize: Tokenize) -> None:
    (tokens,) = tokenize("clicks  # keep | where status == 200\n  | into out\n")
    comment = [t for t in tokens if t.line == 0 and t.start >= 8]
    assert "".join(t.text for t in comment) == "# keep | where status == 200"
    assert all(t.has("comment.line.number-sign.rill") for t in comment)
    assert _first(tokens, "|", after=1).scopes[-1] == "keyword.operator.pipe.rill"


def test_field_in_expression_and_member(tokenize: Tokenize) -> None:
    (tokens,) = tokenize("c | where latency_ms > 250 and r.where | into o\n")
    assert _first(tokens, "latency_ms").scopes[-1] == "variable.other.rill"
    assert [t.scopes[-1] for t in tokens if t.text == "where"] == [
        "keyword.control.step.rill",
        "variable.other.property.rill",
    ]


def test_match_operator_with_regex_string(tokenize: Tokenize) -> None:
    (tokens,) = tokenize('c | where page =~ "^/checkout\\.html" | into o\n')
    assert _first(tokens, "=~").scopes[-1] == "keyword.operator.match.rill"
    pattern = _first(tokens, "^/checkout")
    assert pattern.has("string.regexp.rill") and pattern.has("string.quoted.double.rill")
    assert _first(tokens, "\\.").scopes[-1] == "constant.character.escape.regexp.rill"


def test_schema_name_and_types(tokenize: Tokenize) -> None:
    (tokens,) = tokenize("schema Click {\n  tags: list[str]?\n}\nsource c: Click = f()\n")
    types = [t.text for t in tokens if t.scopes[-1] == "entity.name.type.rill"]
    assert types == ["Click", "list", "str", "Click"]
    assert _first(tokens, "tags").scopes[-1] == "variable.other.rill"
    assert _first(tokens, "?").scopes[-1] == "keyword.operator.optional.rill"


def test_language_constants(tokenize: Tokenize) -> None:
    (tokens,) = tokenize("c | derive a = true, b = false, n = null, t = this | into o\n")
    assert {t.text: t.scopes[-1] for t in tokens if t.text in ("true", "false", "null")} == {
        "true": "constant.language.boolean.rill",
        "false": "constant.language.boolean.rill",
        "null": "constant.language.null.rill",
    }


def test_keywords_equal_the_parser_keywords() -> None:
    """A keyword added to `dsl/grammar.lark` must be added to the TextMate grammar too."""
    grammar = json.loads(GRAMMAR.read_text())
    words = set().union(*(_literal_words(regex) for regex in _regexes(grammar)))
    units = _duration_units()
    assert units <= words
    assert words - units == set(_keyword_terminals().values())


def test_extension_manifest_points_at_its_files() -> None:
    manifest = json.loads((EDITOR / "package.json").read_text())
    (language,) = manifest["contributes"]["languages"]
    (grammar,) = manifest["contributes"]["grammars"]
    assert language["id"] == grammar["language"] == "rill"
    assert language["extensions"] == [".rill"]
    assert (EDITOR / grammar["path"]).resolve() == GRAMMAR
    assert json.loads(GRAMMAR.read_text())["scopeName"] == grammar["scopeName"]
    configuration = json.loads((EDITOR / language["configuration"]).read_text())
    assert configuration["comments"] == {"lineComment": "#"}
    assert (EDITOR / manifest["main"]).is_file()
    assert "rillet.path" in manifest["contributes"]["configuration"]["properties"]


def test_extension_script_is_valid_javascript() -> None:
    node = shutil.which("node")
    assert node is not None, "node is needed: `bash scripts/install-system-packages.sh`"
    checked = subprocess.run(
        [node, "--check", str(EDITOR / "extension.js")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
