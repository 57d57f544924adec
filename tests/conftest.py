"""Shared helpers: run the real `rillet` command, or compile and run pipeline text in-process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from rillet.dsl.pipeline import Compiled, compile_text
from rillet.runtime import RunMetrics, execute

REPO = Path(__file__).resolve().parent.parent

# What a user's own runs and installs leave in the tree (checkpoints, outputs, build files):
# a test that copies examples must start from what the repository holds, not from these.
LEFTOVERS = shutil.ignore_patterns(".rillet", "out", "build", "*.egg-info", "__pycache__")


def copy_examples(source: Path, target: Path) -> Path:
    """`source` (a folder of examples) copied to `target` without a user's leftovers."""
    shutil.copytree(source, target, ignore=LEFTOVERS)
    return target


def rillet(
    *args: str,
    cwd: Path | None = None,
    input: bytes | None = None,
    timeout: float = 60,
    pythonpath: Path | None = None,
) -> subprocess.CompletedProcess:
    """Run the `rillet` command as a user would (same interpreter as the tests)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "rillet.dsl.cli", *args],
        cwd=cwd,
        input=input,
        capture_output=True,
        timeout=timeout,
        env=env,
    )


def compile_pipeline(
    text: str, base_dir: Path, params: dict[str, str] | None = None, name: str = "test.rill"
) -> Compiled:
    return compile_text(text, name, base_dir, params)


def run_pipeline(
    text: str, base_dir: Path, params: dict[str, str] | None = None, **kwargs
) -> RunMetrics:
    """Compile `text` (which must be free of errors) and run it to the end."""
    compiled = compile_pipeline(text, base_dir, params)
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    assert compiled.plan is not None and compiled.checked is not None
    plan, registry = compiled.plan, compiled.checked.registry
    return anyio.run(lambda: execute(plan, registry, **kwargs))


@pytest.fixture
def write(tmp_path: Path):
    """write("data/x.jsonl", text) creates a file under tmp_path and returns its path."""

    def _write(relative: str, text: str) -> Path:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    return _write


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite the golden files of tests/dsl/goldens instead of comparing",
    )
