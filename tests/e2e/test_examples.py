"""Every pipeline in examples/ runs through the real `rillet` command and writes exactly the
outputs kept in tests/e2e/expected/<example>/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rillet.dsl.pipeline import compile_file
from tests.conftest import REPO, copy_examples, rillet

EXAMPLES = sorted((REPO / "examples").glob("*.rill"))
EXPECTED = Path(__file__).parent / "expected"


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    return copy_examples(REPO / "examples", tmp_path / "examples")


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_checks_and_runs(examples: Path, example: Path) -> None:
    checked = rillet("check", example.name, cwd=examples)
    assert checked.returncode == 0, checked.stderr.decode()
    result = rillet("run", example.name, cwd=examples)
    assert result.returncode == 0, result.stderr.decode()
    assert b"finished" in result.stderr


def test_no_two_examples_write_the_same_file() -> None:
    """Each run starts its files over (and a resumed one checks them): a shared file would be
    overwritten by one example and refuse to resume the other."""
    writers: dict[Path, str] = {}
    for example in EXAMPLES:
        compiled = compile_file(str(example))
        assert compiled.checked is not None
        for decl, config in compiled.checked.sinks.values():
            if decl.call.name.text == "file":
                path = (example.parent / config["path"]).resolve()
                assert writers.setdefault(path, example.name) == example.name, path
    assert len(writers) > len(EXAMPLES)


@pytest.mark.parametrize("example", sorted(p.name for p in EXPECTED.iterdir()))
def test_example_writes_expected_outputs(examples: Path, example: str) -> None:
    result = rillet("run", f"{example}.rill", cwd=examples)
    assert result.returncode == 0, result.stderr.decode()
    expected = sorted(p.name for p in (EXPECTED / example).iterdir())
    assert sorted(p.name for p in (examples / "out").iterdir()) == expected
    for name in expected:
        actual = (examples / "out" / name).read_text()
        assert actual == (EXPECTED / example / name).read_text(), name


def test_quickstart_runs_from_another_folder(examples: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = rillet("run", str(examples / "quickstart.rill"), cwd=elsewhere)
    assert result.returncode == 0, result.stderr.decode()
    assert (examples / "out" / "pages.jsonl").exists()
    assert not (elsewhere / "out").exists()


def test_quickstart_param_override_changes_output(examples: Path) -> None:
    result = rillet("run", "quickstart.rill", "-p", "threshold=100000", cwd=examples)
    assert result.returncode == 0, result.stderr.decode()
    assert (examples / "out" / "slow_checkouts.csv").read_text() == ""
    assert '"slow":true' not in (examples / "out" / "pages.jsonl").read_text()


def test_a_users_earlier_run_does_not_leak_into_the_copy(examples: Path, tmp_path: Path) -> None:
    """The quick start leaves checkpoints in `.rillet/` and outputs in `out/`; a copy made
    after it (as the fixture copies the repository's examples) must run from the start."""
    first = rillet("run", "quickstart.rill", cwd=examples)
    assert first.returncode == 0, first.stderr.decode()
    assert (examples / ".rillet").is_dir() and (examples / "out").is_dir()
    copy = copy_examples(examples, tmp_path / "copy")
    assert not (copy / ".rillet").exists() and not (copy / "out").exists()
    again = rillet("run", "quickstart.rill", cwd=copy)
    assert again.returncode == 0, again.stderr.decode()
    assert b"nothing left to do" not in again.stderr
    assert (copy / "out" / "pages.jsonl").read_text() == (
        examples / "out" / "pages.jsonl"
    ).read_text()


def test_the_rolling_example_of_the_reference_runs_on_the_fraud_data(examples: Path) -> None:
    """docs/language.md §4.5 shows `rolling` on the payments `examples/fraud.rill` reads."""
    text = (REPO / "docs" / "language.md").read_text()
    section = text[text.index("### 4.5 ") : text.index("### 4.6 ")]
    pipeline = section.split("```rill\n", 1)[1].split("```", 1)[0]
    (examples / "rolling.rill").write_text(pipeline)
    result = rillet("run", "rolling.rill", cwd=examples)
    assert result.returncode == 0, result.stderr.decode()
    scored = [json.loads(line) for line in result.stdout.decode().splitlines()]
    payments = (examples / "data" / "payments.jsonl").read_text().splitlines()
    assert len(scored) == len(payments) - 1  # one is late
    assert [r["ts"] for r in scored] == sorted(r["ts"] for r in scored)
    assert all({"n", "total", "avg_price"} <= r.keys() for r in scored)
