"""The checker seen from outside: `-p` params (unknown, ill-fitting, used in connector
arguments and by later params), the `rillet check` command (text and JSON output, exit codes,
never a traceback), and rules the diagnostics goldens do not pin down on their own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rillet.dsl.pipeline import Compiled
from rillet.runtime import plan as ir
from tests.conftest import compile_pipeline, rillet

PIPELINE = """\
param input = "data/clicks.jsonl"
param threshold = 250
param doubled = threshold * 2
param strict = false
param ratio = 0.5
param pages = ["/home"]
param limits = {low: 1}

source clicks = file(input)
sink out = stdout()

clicks
  | where latency_ms > doubled and page in pages and strict == false
  | derive r = ratio, low = limits.low
  | into out
"""


def errors(compiled: Compiled) -> list[str]:
    return [d.code for d in compiled.diagnostics if d.severity == "error"]


def where_of(compiled: Compiled) -> ir.Where:
    assert compiled.plan is not None, [d.message for d in compiled.diagnostics]
    (where,) = [n.op for n in compiled.plan.nodes if isinstance(n.op, ir.Where)]
    return where


# -- params ----------------------------------------------------------------------------------


def test_unknown_param_is_e0102_with_did_you_mean(tmp_path: Path) -> None:
    compiled = compile_pipeline(PIPELINE, tmp_path, {"treshold": "300"})
    (d,) = compiled.diagnostics
    assert (d.code, d.severity, d.span) == ("E0102", "error", None)
    assert d.message == "unknown param `treshold` given with `-p treshold=...`"
    assert d.hints == ("did you mean `threshold`?",)
    assert compiled.plan is None


def test_unknown_param_lists_the_declared_ones_when_none_is_close(tmp_path: Path) -> None:
    compiled = compile_pipeline("param a = 1\nparam b = 2\n", tmp_path, {"zzz": "1"})
    (d,) = compiled.diagnostics
    assert d.code == "E0102"
    assert d.hints == ("declared params: `a`, `b`",)


@pytest.mark.parametrize(
    ("name", "value", "kind", "hint"),
    [
        ("threshold", "abc", "an int", "expected a whole number like `300`"),
        ("threshold", "2.5", "an int", "expected a whole number like `300`"),
        ("threshold", "1" * 5000, "an int", "expected a whole number like `300`"),
        ("ratio", "fast", "a float", "expected a number like `2.5`"),
        ("ratio", "inf", "a float", "expected a finite number"),
        ("strict", "yes", "a bool", "expected `true` or `false`"),
        ("pages", '{"a": 1}', "a list", "expected a list in JSON, like `[1, 2]`"),
        ("pages", "[" * 100_000, "a list", "expected a list in JSON, like `[1, 2]`"),
        ("limits", "[1]", "a record", 'expected a record in JSON, like `{"a": 1}`'),
    ],
)
def test_param_value_that_does_not_fit_is_e0103_at_the_declaration(
    tmp_path: Path, name: str, value: str, kind: str, hint: str
) -> None:
    compiled = compile_pipeline(PIPELINE, tmp_path, {name: value})
    (d,) = compiled.diagnostics
    assert d.code == "E0103"
    assert d.message == f"`-p {name}={value}` does not fit param `{name}`"
    assert (d.label, d.hints) == (f"`{name}` is {kind}", (hint,))
    line = next(
        i for i, text in enumerate(PIPELINE.splitlines(), 1) if text.startswith(f"param {name} ")
    )
    assert d.span is not None and d.span.line == line


def test_param_override_reaches_connector_arguments(tmp_path: Path) -> None:
    compiled = compile_pipeline(PIPELINE, tmp_path, {"input": "/abs/other.jsonl"})
    assert compiled.plan is not None
    source = compiled.plan.nodes[0].op
    assert isinstance(source, ir.Source)
    assert source.config == {"path": "/abs/other.jsonl"}


def test_param_default_reaches_connector_arguments(tmp_path: Path) -> None:
    compiled = compile_pipeline(PIPELINE, tmp_path)
    assert compiled.plan is not None
    assert compiled.plan.nodes[0].op == ir.Source("clicks", "file", {"path": "data/clicks.jsonl"})


def test_param_override_is_seen_by_the_params_declared_after_it(tmp_path: Path) -> None:
    where = where_of(compile_pipeline(PIPELINE, tmp_path, {"threshold": "300"}))
    comparison = where.cond.left.left  # type: ignore[union-attr]
    assert comparison == ir.Binary(">", ir.Field(("latency_ms",)), ir.Lit(600))


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("strict", "true", True),
        ("ratio", "3", 3.0),
        ("pages", '["/a", "/b"]', ["/a", "/b"]),
        ("input", "x=y.jsonl", "x=y.jsonl"),
        ("threshold", "-5", -5),
    ],
)
def test_param_override_takes_the_declared_type(
    tmp_path: Path, name: str, value: str, expected: object
) -> None:
    compiled = compile_pipeline(PIPELINE, tmp_path, {name: value})
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    assert compiled.checked is not None
    assert compiled.checked.params[name] == expected
    assert type(compiled.checked.params[name]) is type(expected)


def test_connector_arguments_are_constant_expressions(tmp_path: Path) -> None:
    text = (
        'param dir = "out/"\nsource s = file(dir + "in.jsonl")\nsink o = file(dir + "o")\n'
        "s | into o\n"
    )
    compiled = compile_pipeline(text, tmp_path)
    assert compiled.plan is not None
    assert [n.op.config for n in compiled.plan.nodes] == [  # type: ignore[union-attr]
        {"path": "out/in.jsonl"},
        {"path": "out/o"},
    ]


def test_field_in_connector_argument_is_an_error(tmp_path: Path) -> None:
    compiled = compile_pipeline("source s = file(path)\nsink o = stdout()\ns | into o\n", tmp_path)
    assert errors(compiled) == ["E0201"]


# -- other rules ----------------------------------------------------------------------------


def test_diagnostics_come_in_the_order_of_the_file(tmp_path: Path) -> None:
    text = (
        'source a = file("x")\ntable t = file("x", follow=true)\n'
        'sink o = file("x", format="lines")\na | where nope( ) | into o\n'
    )
    compiled = compile_pipeline(text, tmp_path)
    lines = [d.span.line for d in compiled.diagnostics if d.span is not None]
    assert lines == sorted(lines) and len(lines) == 3


def test_plugin_operator_argument_must_be_constant(tmp_path: Path) -> None:
    text = (
        'use "plugins/geo.py"\nsource a = file("x")\nsink o = stdout()\n'
        "a | tag(label=page) | into o\n"
    )
    fixtures = Path(__file__).parent / "fixtures" / "language"
    compiled = compile_pipeline(text, fixtures)
    assert errors(compiled) == ["E0201"]
    assert compiled.plan is None


def test_source_read_only_by_a_cyclic_stream_is_not_reported_unread(tmp_path: Path) -> None:
    text = (
        'source s = file("x")\nsink o = stdout()\nstream a = union(s, b)\n'
        "stream b = a\nb | into o\n"
    )
    compiled = compile_pipeline(text, tmp_path)
    assert [d.code for d in compiled.diagnostics] == ["E0111"]


def test_long_chain_of_streams_is_checked_without_recursion(tmp_path: Path) -> None:
    chain = "\n".join(f"stream s{i + 1} = s{i}" for i in range(3000))
    text = f'source s0 = file("x")\nsink o = stdout()\n{chain}\ns3000 | into o\n'
    compiled = compile_pipeline(text, tmp_path)
    assert compiled.ok
    assert compiled.plan is not None and len(compiled.plan.nodes) == 2


def test_flow_ending_in_late_into_writes_to_a_sink(tmp_path: Path) -> None:
    text = (
        'source a = file("x")\nsink late = stdout()\n'
        "a | window tumbling 1s | aggregate { n = count() } | late into late\n"
    )
    assert compile_pipeline(text, tmp_path).diagnostics == []


def test_two_sinks_writing_one_file_is_e0115_at_the_second(tmp_path: Path) -> None:
    text = (
        'param dir = "out"\nsource a = file("x")\n'
        'sink one = file("out/o.jsonl")\nsink two = file(dir + "/./o.jsonl", format="csv")\n'
        'sink db1 = sqlite("out/db.sqlite", "t1")\nsink db2 = sqlite("out/db.sqlite", "t2")\n'
        "a | into one\na | into two\na | into db1\na | into db2\n"
    )
    compiled = compile_pipeline(text, tmp_path)
    (d,) = compiled.diagnostics
    assert (d.code, d.message) == ("E0115", "sinks `one` and `two` both write out/o.jsonl")
    assert (d.span.line, d.span.col, d.span.end_col) == (4, 17, 35)
    assert d.label == "`one` writes this file too (line 3)"
    assert d.hints == ("give each sink a file of its own",)
    assert compile_pipeline(text, tmp_path, {"dir": "elsewhere"}).ok


# -- the `rillet check` command -------------------------------------------------------------


def test_check_prints_json_diagnostics_with_file_and_span(tmp_path: Path) -> None:
    (tmp_path / "bad.rill").write_text(
        'source c = file("x")\nsink o = stdout()\nc | wher x | into o\n'
    )
    result = rillet("check", "bad.rill", "--format", "json", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == b""
    (d,) = json.loads(result.stdout)["diagnostics"]
    assert d == {
        "severity": "error",
        "code": "E0004",
        "message": "unknown operator `wher`",
        "span": {"line": 3, "col": 5, "end_line": 3, "end_col": 9},
        "label": "did you mean `where`?",
        "hints": ["a plugin operator is called with parentheses: `name(arg=value)`"],
        "file": "bad.rill",
    }


def test_check_prints_empty_json_list_and_exits_0_for_a_clean_file(tmp_path: Path, write) -> None:
    (tmp_path / "ok.rill").write_text(PIPELINE)
    write("data/clicks.jsonl", "")
    result = rillet("check", "ok.rill", "--format", "json", "-p", "threshold=300", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout) == {"diagnostics": []}


def test_check_reports_unknown_param_given_on_the_command_line(tmp_path: Path, write) -> None:
    (tmp_path / "ok.rill").write_text(PIPELINE)
    write("data/clicks.jsonl", "")
    result = rillet("check", "ok.rill", "-p", "treshold=3", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.decode() == (
        "error: unknown param `treshold` given with `-p treshold=...`\n"
        "  --> ok.rill\n"
        "   = hint: did you mean `threshold`?\n"
    )


# -- the inputs `rillet check` looks for ------------------------------------------------------


def test_check_names_a_missing_input_and_the_folder_it_was_looked_for_in(
    tmp_path: Path, write
) -> None:
    """Run from another folder: the file is beside the caller, not beside the pipeline."""
    write("data/clicks.jsonl", "{}\n")
    write("sub/p.rill", 'source s = file("data/clicks.jsonl")\nsink o = stdout()\ns | into o\n')
    result = rillet("check", "sub/p.rill", cwd=tmp_path)
    assert result.returncode == 2
    folder = tmp_path.resolve() / "sub"
    assert result.stderr.decode() == (
        "error: input file `data/clicks.jsonl` does not exist\n"
        " --> sub/p.rill:1:17\n"
        "  |\n"
        '1 | source s = file("data/clicks.jsonl")\n'
        f"  |                 ^^^^^^^^^^^^^^^^^^^ resolved against {folder}\n"
        "  = hint: relative paths are resolved against the pipeline file's folder, not the "
        "current one\n"
    )
    write("sub/data/clicks.jsonl", "{}\n")
    assert rillet("check", "sub/p.rill", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ('file("logs/x.jsonl", follow=true)', "`logs/x.jsonl` does not exist yet"),
        ('file("logs/*.jsonl")', "no file matches `logs/*.jsonl` yet"),
    ],
    ids=["follow", "glob"],
)
def test_an_input_that_may_appear_later_is_a_warning(
    tmp_path: Path, write, call: str, message: str
) -> None:
    write("p.rill", f"source s = {call}\nsink o = stdout()\ns | into o\n")
    result = rillet("check", "p.rill", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    (d,) = json.loads(result.stdout)["diagnostics"]
    assert (d["severity"], d["code"], d["message"]) == ("warning", "W0410", message)
    assert d["label"] == f"resolved against {tmp_path.resolve()}"


def test_inputs_that_are_there_pass_and_a_folder_is_not_a_file(tmp_path: Path, write) -> None:
    write("logs/a.jsonl", "")
    write("users.csv", "id\n")
    write(
        "p.rill",
        'source a = file("logs/*.jsonl")\nsource b = file("logs")\n'
        'table t = file(name, format="csv")\nparam name = "users.csv"\n'
        "sink o = stdout()\nunion(a, b) | lookup t on id | into o\n",
    )
    result = rillet("check", "p.rill", "--format", "json", cwd=tmp_path)
    assert result.returncode == 2
    (d,) = json.loads(result.stdout)["diagnostics"]
    assert (d["code"], d["message"], d["span"]["line"]) == ("E0410", "`logs` is not a file", 2)
    result = rillet("check", "p.rill", "-p", "name=nope.csv", cwd=tmp_path)
    assert "input file `nope.csv` does not exist" in result.stderr.decode()


def test_only_check_looks_for_inputs(tmp_path: Path) -> None:
    """`test`, `graph` and `explain` read no data; a run reports it when the source opens."""
    compiled = compile_pipeline(
        'source s = file("nope.jsonl")\nsink o = stdout()\ns | into o\n', tmp_path
    )
    assert compiled.ok and compiled.diagnostics == []


def test_a_byte_order_mark_at_the_start_is_accepted(tmp_path: Path, write) -> None:
    write("in.jsonl", "")
    text = 'source s = file("in.jsonl")\nsink o = stdout()\ns | into o\n'
    (tmp_path / "bom.rill").write_bytes(b"\xef\xbb\xbf" + text.encode())
    result = rillet("check", "bom.rill", cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    (tmp_path / "bad.rill").write_bytes(b"\xef\xbb\xbf" + text.replace("file", "fle").encode())
    result = rillet("check", "bad.rill", "--format", "json", cwd=tmp_path)
    (d,) = json.loads(result.stdout)["diagnostics"]
    assert d["span"]["col"] == 12  # counted without the mark, as the author sees the line


@pytest.mark.parametrize(
    "content",
    [
        b"clicks | where | into\nparam = \n",
        b"param x = 99999999999999999999999999\n",
        b"param x = " + b" + ".join([b"1"] * 3000) + b"\n",
        b'source s = file("x")\nsink o = stdout()\ns | where x =~ "(" | into o\n',
        b'source s = file("x")\nsink o = stdout()\ns | where x =~ "(a)\\1" | into o\n',
        b"\xff\xfe not utf-8 \x00\n",
        b'use "plugins/missing.py"\n',
    ],
    ids=[
        "syntax",
        "int-range",
        "nesting",
        "regex",
        "regex-backreference",
        "binary",
        "missing-plugin",
    ],
)
def test_check_exits_2_without_traceback_for_a_broken_file(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "broken.rill").write_bytes(content)
    result = rillet("check", "broken.rill", cwd=tmp_path)
    assert result.returncode == 2
    assert b"Traceback" not in result.stderr
    assert result.stderr.startswith(b"error: ")
