"""`env("NAME")` in the front end: where it may stand (params, connector arguments, `set`,
plugin operator arguments), its default and the default's type, the diagnostics at the call
when the variable is missing or does not fit, and how the values it reads are carried as the
plan's secrets and kept out of diagnostics. The CLI's surfaces are in tests/e2e/test_secrets.py.
"""

from __future__ import annotations

from pathlib import Path

from rillet.dsl.pipeline import Compiled, compile_text
from rillet.runtime import plan as ir
from rillet.runtime.plan import Span

FIXTURES = Path(__file__).parent / "fixtures" / "language"
SECRET = "hunter2-Zq9"

PIPELINE = """\
param password = env("RILLET_PASSWORD")
param count = env("RILLET_COUNT", 3)
set batch_size = env("RILLET_BATCH", 1000)

source clicks = generate(count=count)
sink out = redis_stream(url="redis://bob:" + password + "@127.0.0.1:6379/0", stream="out")
sink db = sqlite(env("RILLET_DB", "out/db.sqlite"), "t")

clicks | where page != password | into out
clicks | into db
"""


def compile_with(
    text: str, environ: dict[str, str], params: dict[str, str] | None = None
) -> Compiled:
    return compile_text(text, "env.rill", FIXTURES, params, environ)


def errors(compiled: Compiled) -> list[tuple[str, str, Span | None]]:
    return [(d.code, d.message, d.span) for d in compiled.diagnostics if d.severity == "error"]


def node_op(compiled: Compiled, kind: type) -> ir.Op:
    assert compiled.plan is not None, errors(compiled)
    (op,) = [
        n.op
        for n in compiled.plan.nodes
        if isinstance(n.op, kind)
        and not (isinstance(n.op, ir.Sink) and n.op.connector != "redis_stream")
    ]
    return op


def test_env_reads_the_variable_where_constants_go() -> None:
    compiled = compile_with(
        PIPELINE,
        {
            "RILLET_PASSWORD": SECRET,
            "RILLET_COUNT": "7",
            "RILLET_BATCH": "50",
            "RILLET_DB": "/tmp/x.sqlite",
        },
    )
    assert errors(compiled) == []
    assert compiled.plan is not None
    sink = node_op(compiled, ir.Sink)
    assert isinstance(sink, ir.Sink)
    assert sink.config["url"] == f"redis://bob:{SECRET}@127.0.0.1:6379/0"
    source = node_op(compiled, ir.Source)
    assert isinstance(source, ir.Source) and source.config["count"] == 7  # as the default's type
    assert compiled.plan.settings.batch_size == 50
    where = node_op(compiled, ir.Where)
    assert where == ir.Where(ir.Binary("!=", ir.Field(("page",)), ir.Lit(SECRET)))
    db = next(
        n.op
        for n in compiled.plan.nodes
        if isinstance(n.op, ir.Sink) and n.op.connector == "sqlite"
    )
    assert isinstance(db, ir.Sink) and db.config["path"] == "/tmp/x.sqlite"


def test_the_plan_marks_the_strings_read_as_secrets_and_not_the_defaults() -> None:
    compiled = compile_with(PIPELINE, {"RILLET_PASSWORD": SECRET, "RILLET_COUNT": "7"})
    assert compiled.plan is not None
    # a number read through a typed default is a setting, and the unset DB used its default
    assert compiled.plan.secrets == {SECRET: "RILLET_PASSWORD"}


def test_a_missing_variable_is_an_error_at_the_call() -> None:
    compiled = compile_with(PIPELINE, {})
    d = compiled.diagnostics[0]
    assert (d.code, d.message, d.span) == (
        "E0206",
        "environment variable `RILLET_PASSWORD` is not set",
        Span(1, 18, 1, 40),
    )
    assert d.label == "param `password` reads it"
    assert d.hints == (
        "set RILLET_PASSWORD in the environment of `rillet`, or give a default: "
        '`env("RILLET_PASSWORD", ...)`',
    )
    assert compiled.plan is None


def test_a_missing_variable_in_a_connector_argument_names_the_argument() -> None:
    text = (
        'source s = generate(count=1)\nsink o = redis_stream(url=env("RILLET_URL"), '
        'stream="x")\ns | into o\n'
    )
    compiled = compile_with(text, {})
    (d,) = compiled.diagnostics
    assert (d.code, d.span, d.label) == ("E0206", Span(2, 27, 2, 44), "argument `url` reads it")


def test_a_default_is_used_when_the_variable_is_not_set() -> None:
    compiled = compile_with('param url = env("RILLET_URL", "redis://localhost")\n', {})
    assert errors(compiled) == []
    assert compiled.checked is not None and compiled.checked.params["url"] == "redis://localhost"
    assert compiled.plan is not None and compiled.plan.secrets == {}


def test_a_value_that_does_not_fit_the_default_is_an_error_that_does_not_quote_it() -> None:
    compiled = compile_with('param n = env("RILLET_N", 10)\n', {"RILLET_N": SECRET})
    (d,) = compiled.diagnostics
    assert (d.code, d.span) == ("E0207", Span(1, 11, 1, 30))
    assert d.message == "environment variable `RILLET_N` does not fit its default"
    assert (d.label, d.hints) == ("the default is an int", ("expected a whole number like `300`",))


def test_env_takes_a_name_and_an_optional_default() -> None:
    for call in ("env()", 'env("A", 1, 2)', 'env(name="A")'):
        (d,) = compile_with(f"param p = {call}\n", {"A": "x"}).diagnostics
        assert (d.code, d.span) == ("E0205", Span(1, 11, 1, 11 + len(call)))
    (d,) = compile_with("param p = env(42)\n", {}).diagnostics
    assert (d.code, d.label, d.span) == ("E0205", "found an int", Span(1, 15, 1, 17))


def test_the_name_may_be_a_constant_expression() -> None:
    compiled = compile_with(
        'param app = "RILLET"\nparam url = env(app + "_URL")\n', {"RILLET_URL": SECRET}
    )
    assert compiled.checked is not None and compiled.checked.params["url"] == SECRET


def test_p_replaces_a_param_whose_variable_is_not_set() -> None:
    compiled = compile_with(PIPELINE, {}, {"password": "local"})
    assert errors(compiled) == []
    assert compiled.plan is not None and compiled.plan.secrets == {}


def test_env_in_a_flow_expression_says_to_use_a_param() -> None:
    text = 'source s = generate(count=1)\nsink o = stdout()\ns | where page != env("A") | into o\n'
    (d,) = compile_with(text, {"A": "x"}).diagnostics
    assert (d.code, d.span) == ("E0401", Span(3, 19, 3, 22))
    assert d.hints == ('declare `param NAME = env("...")` and use the param here',)


def test_plugin_operator_arguments_may_read_env() -> None:
    text = (
        'use "plugins/geo.py"\nsource s = generate(count=1)\nsink o = stdout()\n'
        's | tag(label=env("RILLET_LABEL")) | into o\n'
    )
    compiled = compile_with(text, {"RILLET_LABEL": SECRET})
    op = node_op(compiled, ir.PluginOperator)
    assert isinstance(op, ir.PluginOperator) and op.kwargs == {"label": SECRET}


def test_a_diagnostic_that_would_quote_a_secret_shows_env_instead() -> None:
    text = (
        'source s = generate(count=1)\nsink o = file("out/x", format=env("RILLET_FMT"))\n'
        "s | into o\n"
    )
    (d,) = compile_with(text, {"RILLET_FMT": SECRET}).diagnostics
    assert d.code == "E0406"
    assert d.label.endswith('found env("RILLET_FMT")') and SECRET not in d.label


def test_without_an_environment_nothing_is_read() -> None:
    """compile_text is pure: it reads the variables it is given, not the process's."""
    compiled = compile_text('param p = env("PATH")\n', "env.rill", FIXTURES)
    assert [d.code for d in compiled.diagnostics] == ["E0206"]


def test_the_checked_program_does_not_print_the_environment() -> None:
    """The params it holds are values of the program; the rest of the environment is not."""
    compiled = compile_with(PIPELINE, {"RILLET_PASSWORD": SECRET, "OTHER_TOKEN": "zz-other"})
    assert compiled.checked is not None
    assert "zz-other" not in repr(compiled.checked)
    assert SECRET not in repr(compiled.checked.env)
