"""Golden files for the three stages of the front end, one parametrized test per folder:

- `goldens/parse/*.rill` → `*.ast.json`: the syntax tree, as msgspec JSON;
- `goldens/diagnostics/*.rill` → `*.txt`: every diagnostic of parse, check and plan, as text;
- `goldens/plan/*.rill` → `*.plan.json`: the plan IR.

`pytest --update-goldens` rewrites the expected files from the current output; review the diff
like code. Relative paths in the pipelines resolve against `fixtures/language` (it holds
`plugins/geo.py` and `data/`), and a plan's `base_dir` is written as ".", so the files do not
depend on where the repository lives.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from rillet.dsl.diagnostic import SourceText, render_text
from rillet.dsl.parser import parse
from tests.conftest import compile_pipeline

GOLDENS = Path(__file__).parent / "goldens"
FIXTURES = Path(__file__).parent / "fixtures" / "language"


def _cases(folder: str) -> list[Path]:
    return sorted((GOLDENS / folder).glob("*.rill"))


def _json(value: object) -> str:
    return msgspec.json.format(msgspec.json.encode(value), indent=2).decode() + "\n"


def _check_golden(request: pytest.FixtureRequest, expected_path: Path, actual: str) -> None:
    if request.config.getoption("--update-goldens"):
        expected_path.write_text(actual, encoding="utf-8")
        return
    assert expected_path.exists(), f"no {expected_path.name}: run pytest --update-goldens"
    assert actual == expected_path.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", _cases("parse"), ids=lambda p: p.stem)
def test_parse_matches_golden_ast(request: pytest.FixtureRequest, case: Path) -> None:
    program, diagnostics = parse(case.read_text(encoding="utf-8"))
    assert diagnostics == []
    _check_golden(request, case.with_suffix(".ast.json"), _json(program))


@pytest.mark.parametrize("case", _cases("diagnostics"), ids=lambda p: p.stem)
def test_diagnostics_match_golden_text(request: pytest.FixtureRequest, case: Path) -> None:
    text = case.read_text(encoding="utf-8")
    compiled = compile_pipeline(text, FIXTURES, name=case.name)
    assert compiled.diagnostics, "a diagnostics golden must produce diagnostics"
    rendered = render_text(compiled.diagnostics, SourceText(case.name, text))
    _check_golden(request, case.with_suffix(".txt"), rendered)


@pytest.mark.parametrize("case", _cases("plan"), ids=lambda p: p.stem)
def test_plan_matches_golden_json(request: pytest.FixtureRequest, case: Path) -> None:
    compiled = compile_pipeline(case.read_text(encoding="utf-8"), FIXTURES, name=case.name)
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    assert compiled.plan is not None
    plan = msgspec.structs.replace(compiled.plan, base_dir=".")
    _check_golden(request, case.with_suffix(".plan.json"), _json(plan))


@pytest.mark.parametrize("folder", ["parse", "diagnostics", "plan"])
def test_golden_folder_is_not_empty(folder: str) -> None:
    assert len(_cases(folder)) >= 3


def test_every_golden_output_has_its_pipeline() -> None:
    outputs = [p for p in GOLDENS.glob("*/*") if p.suffix != ".rill"]
    orphans = [
        p.relative_to(GOLDENS).as_posix()
        for p in outputs
        if not p.with_name(p.name.split(".")[0] + ".rill").exists()
    ]
    assert outputs and orphans == []
