"""A connector whose client library is an extra that is not installed is stopped by the
checker at the line that names it, with the `pip install` to run: never an ImportError in the
middle of a run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import compile_pipeline

PIPELINE = """source events = redis_stream("redis://127.0.0.1:1", "events")
sink out = postgres("postgresql://127.0.0.1:1/db", "out")
events | into out
"""


@pytest.mark.parametrize(
    ("module", "connector", "install", "line"),
    [
        ("redis", "redis_stream", "rillet[redis]", 1),
        ("psycopg", "postgres", "rillet[postgres]", 2),
    ],
)
def test_a_connector_without_its_library_names_the_extra_to_install(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    module: str,
    connector: str,
    install: str,
    line: int,
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    compiled = compile_pipeline(PIPELINE, tmp_path)
    (diagnostic,) = [d for d in compiled.diagnostics if d.code == "E0408"]
    assert f"`{connector}` needs the Python package `{module}`" in diagnostic.message
    assert diagnostic.hints == (f"pip install '{install}'",)
    assert diagnostic.span is not None and diagnostic.span.line == line
    assert not compiled.ok


def test_with_the_libraries_installed_the_same_pipeline_checks(tmp_path: Path) -> None:
    assert compile_pipeline(PIPELINE, tmp_path).ok


@pytest.mark.parametrize(
    ("module", "connector", "install"),
    [("pyarrow", "parquet", "rillet[parquet]"), ("deltalake", "delta", "rillet[delta]")],
)
def test_a_table_sink_without_its_library_names_the_extra_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, connector: str, install: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    text = f'source events = file("in.jsonl")\nsink out = {connector}("out/t")\nevents | into out\n'
    compiled = compile_pipeline(text, tmp_path)
    (diagnostic,) = [d for d in compiled.diagnostics if d.code == "E0408"]
    assert diagnostic.hints == (f"pip install '{install}'",)
    assert diagnostic.span is not None and diagnostic.span.line == 2
