"""Golden files for the two views of a plan, one parametrized test per folder:

- `goldens/graph/*.rill` → `*.txt`, `*.mmd`, `*.dot`: `rillet graph` in its three formats;
- `goldens/explain/*.rill` → `*.txt`: `rillet explain`, the physical plan.

`pytest --update-goldens` rewrites them (the helper of `test_goldens.py`). Pipelines compile
against `fixtures/language` under their bare file name, so no absolute path reaches a golden.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rillet.dsl import graph
from rillet.dsl.explain import explain
from tests.conftest import compile_pipeline
from tests.dsl.test_goldens import FIXTURES, _cases, _check_golden

_SUFFIXES = {"text": ".txt", "mermaid": ".mmd", "dot": ".dot"}


def _compiled(case: Path):
    compiled = compile_pipeline(case.read_text(encoding="utf-8"), FIXTURES, name=case.name)
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    assert compiled.plan is not None and compiled.checked is not None
    return compiled


@pytest.mark.parametrize("case", _cases("graph"), ids=lambda p: p.stem)
def test_graph_matches_golden_in_every_format(request: pytest.FixtureRequest, case: Path) -> None:
    built = graph.build(_compiled(case).plan)
    for name, layout in graph.FORMATS.items():
        _check_golden(request, case.with_suffix(_SUFFIXES[name]), layout(built))


@pytest.mark.parametrize("case", _cases("explain"), ids=lambda p: p.stem)
def test_explain_matches_golden_text(request: pytest.FixtureRequest, case: Path) -> None:
    compiled = _compiled(case)
    text = explain(compiled.plan, compiled.checked.registry)
    assert str(FIXTURES) not in text
    _check_golden(request, case.with_suffix(".txt"), text)


@pytest.mark.parametrize("folder", ["graph", "explain"])
def test_view_golden_folder_is_not_empty(folder: str) -> None:
    assert len(_cases(folder)) >= 5
