"""Property tests of the front end: whatever text it is given, parse → check → plan returns
diagnostics or a plan and never raises, and every diagnostic points inside the text.

The text comes from arbitrary strings; from random mutations (characters, tokens or lines
deleted, inserted, duplicated, swapped or replaced) of valid pipelines — the language's
example snippets and the golden files; and from pipelines built out of the grammar's pieces, which
parse and so reach far deeper into the checker and the planner than random text does. Each
test is bounded (`max_examples`), so the suite stays fast.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rillet.dsl.diagnostic import SourceText, render_json, render_text
from rillet.dsl.parser import MAX_NESTING
from tests.conftest import compile_pipeline
from tests.dsl.test_language_snippets import DECLARATIONS, FLOWS, TEST_BLOCK

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures" / "language"
CORPUS = [DECLARATIONS, FLOWS, TEST_BLOCK, DECLARATIONS + "\n" + FLOWS + "\n" + TEST_BLOCK] + [
    path.read_text(encoding="utf-8") for path in sorted((HERE / "goldens").glob("*/*.rill"))
]
TOKEN = re.compile(r'\s+|[A-Za-z_][A-Za-z0-9_]*|[0-9.]+[a-z]*|"(?:[^"\\\n]|\\.)*"|.', re.S)
VOCABULARY = sorted({t for text in CORPUS for t in TOKEN.findall(text) if not t.isspace()})
CHARACTERS = '|(){}[],=:"#\n\\ -+*/%.?~<>!\t0123456789abcxyz_'
SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The language fixtures (data files, `plugins/geo.py`) in a folder of their own."""
    path = tmp_path_factory.mktemp("project")
    shutil.copytree(FIXTURES, path, dirs_exist_ok=True)
    return path


def assert_diagnostics_or_plan(text: str, base_dir: Path) -> None:
    compiled = compile_pipeline(text, base_dir)
    lines = text.count("\n") + 1
    for d in compiled.diagnostics:
        assert d.severity in ("error", "warning")
        assert re.fullmatch(r"[EW]\d{4}", d.code), d
        if d.span is not None:
            assert 1 <= d.span.line <= lines, d
            assert d.span.col >= 1, d
    assert (compiled.plan is not None) == compiled.ok
    source = SourceText("fuzz.rill", text)
    render_text(compiled.diagnostics, source)
    render_json(compiled.diagnostics, source)


def _kind(token: str) -> str:
    if token[:1].isalpha() or token[:1] == "_":
        return "name"
    if token[:1].isdigit():
        return "number"
    return "string" if token[:1] == '"' else "other"


KINDS = {kind: [t for t in VOCABULARY if _kind(t) == kind] for kind in ("name", "number", "string")}


def _mutate_chars(text: str, kind: str, data: st.DataObject) -> str:
    i, j = sorted((data.draw(st.integers(0, len(text))), data.draw(st.integers(0, len(text)))))
    if kind == "delete":
        return text[:i] + text[i + 1 :]
    if kind == "insert":
        return text[:i] + data.draw(st.sampled_from(CHARACTERS)) + text[i:]
    if kind == "duplicate":
        return text[:j] + text[i:j] + text[j:]
    if i < j < len(text):  # swap
        return text[:i] + text[j] + text[i + 1 : j] + text[i] + text[j + 1 :]
    return text


def _mutate_parts(parts: list[str], kind: str, data: st.DataObject, joiner: str) -> str:
    """Token or line mutations; `replace` keeps a token's kind (a name for a name, a number
    for a number), so most results still parse and reach the checker and the planner."""
    if not parts:
        return ""
    i = data.draw(st.integers(0, len(parts) - 1))
    j = data.draw(st.integers(0, len(parts) - 1))
    if kind == "delete":
        del parts[i]
    elif kind == "duplicate":
        parts.insert(i, parts[i])
    elif kind == "swap":
        parts[i], parts[j] = parts[j], parts[i]
    elif kind == "replace" and joiner:  # a line from another pipeline
        parts[i] = data.draw(st.sampled_from(data.draw(st.sampled_from(CORPUS)).split("\n")))
    elif kind == "replace":
        same = KINDS.get(_kind(parts[i])) or VOCABULARY
        parts[i] = data.draw(st.sampled_from(same if data.draw(st.booleans()) else VOCABULARY))
    return joiner.join(parts)


def _mutate(text: str, data: st.DataObject) -> str:
    level = data.draw(st.sampled_from(["char", "token", "line"]))
    kind = data.draw(
        st.sampled_from(["delete", "duplicate", "swap", "insert" if level == "char" else "replace"])
    )
    if level == "char":
        return _mutate_chars(text, kind, data)
    if level == "token":
        return _mutate_parts(TOKEN.findall(text), kind, data, "")
    return _mutate_parts(text.split("\n"), kind, data, "\n")


@SETTINGS
@given(text=st.text())
def test_front_end_never_raises_on_arbitrary_text(project: Path, text: str) -> None:
    assert_diagnostics_or_plan(text, project)


@SETTINGS
@given(text=st.text(alphabet=st.sampled_from(CHARACTERS), max_size=80))
def test_front_end_never_raises_on_punctuation_soup(project: Path, text: str) -> None:
    assert_diagnostics_or_plan(text, project)


@SETTINGS
@given(base=st.sampled_from(CORPUS), data=st.data())
def test_front_end_never_raises_on_mutated_pipelines(
    project: Path, base: str, data: st.DataObject
) -> None:
    text = base
    for _ in range(data.draw(st.integers(1, 5), label="mutations")):
        text = _mutate(text, data)
    assert_diagnostics_or_plan(text, project)


# -- pipelines built from the grammar: valid syntax, names drawn from a small pool so that they
# collide (duplicates, cycles, unknown or shadowed fields), to exercise the checker and planner.

NAMES = st.sampled_from(["a", "b", "clicks", "out", "ts", "user", "page", "tags", "x", "Click"])
DURATIONS = st.sampled_from(["0s", "250ms", "10s", "5m", "1h"])
LITERALS = st.sampled_from(
    ["0", "1", "-2", "2.5", '"s"', '"^/x"', "true", "null", "10s", "[]", "{}", "[1, 2]", '{k: "v"}']
)
AGGREGATES = st.sampled_from(
    [
        "count()",
        "sum({})",
        "avg({})",
        "quantile({}, 0.5)",
        "first({})",
        "collect({})",
        "count_if({})",
        "max({})",
    ]
)


def _compound(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    op = st.sampled_from(
        ["+", "-", "*", "/", "//", "%", "==", "!=", "<", ">=", "and", "or", "??", "in", "not in"]
    )
    return st.one_of(
        st.builds("{} {} {}".format, inner, op, inner),
        st.builds("-{}".format, inner),
        st.builds("not {}".format, inner),
        st.builds("({})".format, inner),
        st.builds('{} =~ "a+"'.format, inner),
        st.builds("if {} then {} else {}".format, inner, inner, inner),
        st.builds(
            "{}({})".format, st.sampled_from(["lower", "round", "len", "nope", "count"]), inner
        ),
        st.builds("[{}, {}]".format, inner, inner),
        st.builds("{{k: {}}}".format, inner),
        st.builds("{}.{}".format, inner, NAMES),
        st.builds("{}[{}]".format, inner, inner),
    )


EXPRESSIONS = st.recursive(st.one_of(LITERALS, NAMES, st.just("this")), _compound, max_leaves=6)


def _operator() -> st.SearchStrategy[str]:
    fmt = str.format
    return st.one_of(
        st.builds("where {}".format, EXPRESSIONS),
        st.builds("select {}, {} = {}".format, NAMES, NAMES, EXPRESSIONS),
        st.builds("derive {} = {}".format, NAMES, EXPRESSIONS),
        st.builds("drop {}".format, NAMES),
        st.builds("explode {} as {}".format, NAMES, NAMES),
        st.builds("event_time {} lateness {}".format, NAMES, DURATIONS),
        st.builds(fmt, st.sampled_from(["window tumbling {}", "window session gap {}"]), DURATIONS),
        st.builds("window sliding {} every {}".format, DURATIONS, DURATIONS),
        st.builds(
            lambda k, n, a, e: f"aggregate by {k} {{ {n} = {a.format(e)} }}",
            NAMES,
            NAMES,
            AGGREGATES,
            EXPRESSIONS,
        ),
        st.builds("dedupe by {} within {}".format, NAMES, DURATIONS),
        st.builds("join {} on {} within {}".format, NAMES, NAMES, DURATIONS),
        st.builds("lookup {} on {}".format, NAMES, NAMES),
        st.builds("late into {}".format, NAMES),
        st.builds("into {}".format, NAMES),
        st.builds("tag(label={}) concurrency {}".format, EXPRESSIONS, st.integers(0, 3)),
        st.builds("running_total(field={}, key={})".format, EXPRESSIONS, EXPRESSIONS),
    )


FLOWS_OF_OPERATORS = st.builds(
    lambda head, ops: " | ".join([head, *ops]),
    st.one_of(NAMES, st.builds("union({}, {})".format, NAMES, NAMES)),
    st.lists(_operator(), max_size=5),
)
CONNECTORS = st.builds(
    "{}({})".format,
    st.sampled_from(["file", "stdout", "stdin", "generate", "nope"]),
    st.sampled_from(
        [
            '"data/x.jsonl"',
            'format="csv"',
            "format=3",
            '"p", key="user"',
            "count=10",
            "x",
            "",
            '"p", follow=true',
        ]
    ),
)
STATEMENTS = st.one_of(
    st.builds("param {} = {}".format, NAMES, EXPRESSIONS),
    st.builds(
        "set {} = {}".format, st.sampled_from(["batch_size", "batch_timeout", "x"]), EXPRESSIONS
    ),
    st.builds(
        "schema {} {{ {}: {}, {}: list[int]? }}".format,
        NAMES,
        NAMES,
        st.sampled_from(["int", "str", "float", "bool", "any", "lst"]),
        NAMES,
    ),
    st.builds("source {}: {} = {}".format, NAMES, NAMES, CONNECTORS),
    st.builds("source {} = {}".format, NAMES, CONNECTORS),
    st.builds("table {} = {}".format, NAMES, CONNECTORS),
    st.builds("sink {} = {}".format, NAMES, CONNECTORS),
    st.builds("errors into {}".format, NAMES),
    st.builds("stream {} = {}".format, NAMES, FLOWS_OF_OPERATORS),
    FLOWS_OF_OPERATORS,
    st.builds(
        'test "t" {{\n  given {} = {}\n  expect ordered {} = {}\n}}'.format,
        NAMES,
        EXPRESSIONS,
        NAMES,
        EXPRESSIONS,
    ),
)


@SETTINGS
@given(statements=st.lists(STATEMENTS, min_size=1, max_size=12))
def test_front_end_never_raises_on_generated_pipelines(
    project: Path, statements: list[str]
) -> None:
    text = "\n".join(['use "plugins/geo.py"', *statements]) + "\n"
    assert_diagnostics_or_plan(text, project)


HEADER = """\
use "plugins/geo.py"
param limit = 5
source clicks = file("data/clicks.jsonl")
source orders = file("data/orders.csv", format="csv")
table users = file("data/users.csv", format="csv", key="user")
sink out = stdout()
sink late = stdout()
errors into late
stream s = clicks | where user > limit
"""
FIELDS = st.sampled_from(["user", "page", "ts", "x", "limit"])
FIELD_EXPRESSIONS = st.recursive(
    st.one_of(FIELDS, st.sampled_from(["1", "2.5", "limit", "this.y", 'this["odd key"]'])),
    lambda inner: st.one_of(
        st.builds(
            "{} {} {}".format, inner, st.sampled_from(["+", "*", "==", "<", "and", "??"]), inner
        ),
        st.builds("-{}".format, inner),
        st.builds("round({})".format, inner),
        st.builds("if {} then {} else {}".format, inner, inner, inner),
    ),
    max_leaves=4,
)
VALID_OPERATORS = st.one_of(
    st.builds("where {}".format, FIELD_EXPRESSIONS),
    st.builds("derive {} = {}".format, FIELDS, FIELD_EXPRESSIONS),
    st.builds("select user, page, {} = {}".format, FIELDS, FIELD_EXPRESSIONS),
    st.just("drop x"),
    st.just("explode page as tag"),
    st.just("event_time ts idle 1s"),
    st.builds(
        "{} | aggregate by user {{ n = count(), m = max({}) }}".format,
        st.sampled_from(
            ["window tumbling 1s", "window sliding 1m every 10s", "window session gap 5m"]
        ),
        FIELD_EXPRESSIONS,
    ),
    st.just("aggregate by page { n = count() } | late into late"),
    st.just("dedupe by user within 1h"),
    st.just("join orders on user within 1s"),
    st.just("join s on user within 1s"),
    st.just("join s on user = user, page = page within 1s"),
    st.just("join orders on user = order, page = page within 1s"),
    st.just("left join s on user within 1s"),
    st.just("left join orders on user"),
    st.just("lookup users on user"),
    st.just('tag(label="l") concurrency 2'),
    st.just("into late"),
)
VALID_FLOWS = st.builds(
    lambda name, head, ops: (
        (f"stream {name} = " if name else "") + " | ".join([head, *ops, "into out"])
    ),
    st.sampled_from([None, None, "t1", "t2"]),
    st.sampled_from(["clicks", "s", "orders", "union(clicks, orders)", "union(s, clicks)"]),
    st.lists(VALID_OPERATORS, max_size=4),
)


@SETTINGS
@given(flows=st.lists(VALID_FLOWS, min_size=1, max_size=4))
def test_planner_never_raises_on_generated_checked_pipelines(
    project: Path, flows: list[str]
) -> None:
    assert_diagnostics_or_plan(HEADER + "\n".join(flows) + "\n", project)


ESCAPES = st.sampled_from(
    [
        "x",
        "é",
        '\\"',
        "\\\\",
        "\\n",
        "\\u",
        "\\u00e9",
        "\\uZZZZ",
        "\\ud83d",
        "\\ude00",
        "\\ud800",
        "\\/",
        "\\d",
    ]
)


@SETTINGS
@given(parts=st.lists(ESCAPES, max_size=8))
def test_string_escapes_never_make_the_front_end_raise(project: Path, parts: list[str]) -> None:
    literal = '"' + "".join(parts) + '"'
    text = (
        f"param p = {literal}\nuse {literal}\nsource s = file(p, format=p)\n"
        f"sink o = file({literal})\ns | where p =~ {literal} | derive q = p + {literal}"
        f" | into o\n"
    )
    assert_diagnostics_or_plan(text, project)


@pytest.mark.parametrize("base", CORPUS, ids=lambda t: t.split("\n", 1)[0][:40])
def test_every_line_prefix_of_corpus_never_raises(project: Path, base: str) -> None:
    lines = base.split("\n")
    for end in range(len(lines) + 1):
        assert_diagnostics_or_plan("\n".join(lines[:end]), project)


@pytest.mark.parametrize(
    "make",
    [
        lambda n: "y" + " + 1" * n,
        lambda n: "round(" * (n // 2) + "y" + ")" * (n // 2),
        lambda n: "[" * n + "]" * n,
        lambda n: "-" * n + "y",
    ],
    ids=["sum-chain", "calls", "lists", "negations"],
)
def test_deepest_accepted_expression_goes_through_every_phase(project: Path, make) -> None:
    """The nesting limit leaves room for the recursive phases: the deepest expression the
    parser accepts is checked, planned, rendered and encoded without exhausting the stack."""
    head = 'source a = file("x")\nsink o = stdout()\na | derive x = '
    deepest = None
    for n in range(MAX_NESTING + 10, 0, -1):
        compiled = compile_pipeline(f"{head}{make(n)} | into o\n", project)
        if not any(d.code == "E0006" for d in compiled.diagnostics):
            deepest = compiled
            break
    assert deepest is not None and deepest.plan is not None
    msgspec.json.encode(deepest.plan)
