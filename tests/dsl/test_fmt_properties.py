"""The formatter never changes what a pipeline means: for generated pipelines (the strategies of
`test_properties.py`, with comments, line breaks and odd spacing thrown in) and for every
example, benchmark and documentation pipeline, the formatted text plans to the same plan (spans
aside) with the same diagnostics, a second pass changes nothing, and every comment survives.

The examples, benchmarks and ```rill snippets of the docs must also be formatted already (that
is `rillet fmt --check` in CI); `scripts/fmt_all.py` formats them.
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rillet.dsl.fmt import FormatError, format_text
from rillet.dsl.parser import parse
from tests.conftest import REPO, compile_pipeline
from tests.dsl.test_properties import HEADER, SETTINGS, STATEMENTS, VALID_FLOWS, project
from tests.test_docs import rill_snippets

__all__ = ["project"]  # the fixture, shared with test_properties.py

COMMENT = re.compile(r"#[^\n]*")
SNIPPETS = rill_snippets()
TO_FORMAT = rill_snippets(to_format=True)
FILES = sorted([*(REPO / "examples").glob("*.rill"), *(REPO / "bench").glob("*.rill")])
# How the pieces of a generated pipeline may be joined: what the formatter must see through.
PIPES = st.sampled_from([" | ", "|", "\n  | ", "\n| ", "  # why\n  | ", "\n  # a note\n    |  "])
COMMAS = st.sampled_from([", ", ",", " , ", ",\n  "])
ENDS = st.sampled_from(["\n", "\n\n\n", "  # done\n", "\n# between\n\n", "   \n"])


def _without_spans(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_spans(v) for k, v in value.items() if k != "span"}
    if isinstance(value, list | tuple):
        return [_without_spans(v) for v in value]
    return value


def _meaning(text: str, base_dir: Path) -> tuple[object, object]:
    """What a pipeline does, as far as the front end can tell: its diagnostics' codes and its
    plan, without the positions that moving text around must change."""
    compiled = compile_pipeline(text, base_dir)
    codes = [(d.severity, d.code) for d in compiled.diagnostics]
    return codes, _without_spans(msgspec.to_builtins(compiled.plan))


def _comments(text: str) -> list[str]:
    """The comments of a text whose strings hold no `#` (true of everything generated here)."""
    return [c.strip() for c in COMMENT.findall(text)]


def assert_formats_faithfully(text: str, base_dir: Path) -> str:
    """The formatted text; for text that does not parse (`-not x`: the generated pieces do not
    always fit together), the text itself, once `format_text` has raised its diagnostics."""
    program, diagnostics = parse(text)
    if program is None:
        with pytest.raises(FormatError) as raised:
            format_text(text)
        assert raised.value.diagnostics == diagnostics
        return text
    formatted = format_text(text)
    assert format_text(formatted) == formatted
    assert _meaning(formatted, base_dir) == _meaning(text, base_dir)
    return formatted


def _scrambled(data: st.DataObject, text: str) -> str:
    """`text` with each ` | ` and `, ` replaced by another way to write it."""
    parts = re.split(r"( \| |, )", text)
    return "".join(
        data.draw(PIPES if part == " | " else COMMAS) if part in (" | ", ", ") else part
        for part in parts
    )


@SETTINGS
@given(statements=st.lists(STATEMENTS, min_size=1, max_size=8), data=st.data())
def test_generated_pipelines_format_to_the_same_plan(
    project: Path, statements: list[str], data: st.DataObject
) -> None:
    text = "".join(_scrambled(data, s) + data.draw(ENDS) for s in statements)
    formatted = assert_formats_faithfully(text, project)
    assert _comments(formatted) == _comments(text)


@SETTINGS
@given(flows=st.lists(VALID_FLOWS, min_size=1, max_size=4), data=st.data())
def test_generated_checked_pipelines_format_to_the_same_plan(
    project: Path, flows: list[str], data: st.DataObject
) -> None:
    text = HEADER + "".join(_scrambled(data, flow) + data.draw(ENDS) for flow in flows)
    formatted = assert_formats_faithfully(text, project)
    assert _comments(formatted) == _comments(text)


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_example_and_bench_pipelines_format_to_the_same_plan(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert compile_pipeline(text, path.parent).plan is not None
    assert_formats_faithfully(text, path.parent)


@pytest.mark.parametrize("where, snippet", SNIPPETS, ids=[where for where, _ in SNIPPETS])
def test_doc_snippets_format_to_the_same_syntax(project: Path, where: str, snippet: str) -> None:
    """Snippets need not check on their own (files and plugins they name are elsewhere), so the
    diagnostics stand in for the plan where there is none; `format_text` itself refuses to
    return a text whose syntax tree or comments differ."""
    assert_formats_faithfully(snippet, project)


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_example_and_bench_pipelines_are_formatted(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert format_text(text) == text, "not formatted: run python scripts/fmt_all.py"


@pytest.mark.parametrize("where, snippet", TO_FORMAT, ids=[where for where, _ in TO_FORMAT])
def test_doc_snippets_are_formatted(where: str, snippet: str) -> None:
    assert format_text(snippet) == snippet, (
        f"the ```rill block at {where} is not formatted: run python scripts/fmt_all.py"
    )
