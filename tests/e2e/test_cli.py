"""The `rillet` command's contract: exit codes, what it prints, and that a pipeline's mistakes
never surface as a Python traceback."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import tomllib
from importlib.metadata import version
from pathlib import Path

from tests.conftest import REPO, rillet


def test_version_prints_the_installed_version() -> None:
    result = rillet("--version")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode() == f"rillet {version('rillet')}\n"
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert version("rillet") == pyproject["project"]["version"]


def test_plugin_operator_from_use_runs(tmp_path: Path) -> None:
    (tmp_path / "tags.py").write_text(
        "from rillet.runtime.plugin import Plugin\n"
        "plugin = Plugin('tags')\n"
        "@plugin.operator('tag')\n"
        "def tag(record: dict, *, label: str) -> dict:\n"
        "    return {**record, 'label': label}\n"
    )
    (tmp_path / "tag.rill").write_text(
        'use "tags.py"\n'
        "source clicks = generate(count=10)\n"
        "sink out = stdout()\n"
        'clicks | tag(label="x") | into out\n'
    )
    result = rillet("run", "-q", "tag.rill", cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.splitlines()
    assert len(lines) == 10 and all(b'"label":"x"' in line for line in lines)


def test_deep_expression_within_the_limit_runs(tmp_path: Path) -> None:
    (tmp_path / "one.jsonl").write_text('{"y": 1}\n')
    (tmp_path / "deep.rill").write_text(
        'source a = file("one.jsonl")\nsink o = stdout()\n'
        "a | derive x = y" + " + 1" * 55 + " | into o\n"
    )
    result = rillet("run", "-q", "deep.rill", cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b'{"y":1,"x":56}\n'


def test_missing_pipeline_file_is_a_usage_error(tmp_path: Path) -> None:
    result = rillet("check", "nope.rill", cwd=tmp_path)
    assert result.returncode == 2
    assert b"cannot read pipeline file" in result.stderr


def test_malformed_param_flag_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "p.rill").write_text("param n = 1\n")
    result = rillet("run", "p.rill", "-p", "n", cwd=tmp_path)
    assert result.returncode == 2
    assert b"name=value" in result.stderr


def test_sigint_stops_a_live_run_with_exit_130(tmp_path: Path) -> None:
    (tmp_path / "live.rill").write_text(
        "source clicks = generate(rate=2000)\n"
        'sink out = file("out/live.jsonl")\n'
        "clicks | into out\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "rillet.dsl.cli", "run", "live.rill"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    output = tmp_path / "out" / "live.jsonl"
    deadline = time.monotonic() + 30
    while not (output.exists() and output.stat().st_size > 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert b"stopped" in err and b"Traceback" not in err
    lines = output.read_bytes().splitlines()
    assert lines and all(line.startswith(b"{") and line.endswith(b"}") for line in lines)


def test_stdin_to_stdout_filter(tmp_path: Path) -> None:
    (tmp_path / "filter.rill").write_text(
        "source input = stdin()\nsink output = stdout()\n"
        "input | where n > 1 | derive m = n * 10 | into output\n"
    )
    data = b'{"n": 1}\n{"n": 2}\n{"n": 3}\n'
    result = rillet("run", "-q", "filter.rill", cwd=tmp_path, input=data)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b'{"n":2,"m":20}\n{"n":3,"m":30}\n'


def test_missing_input_leaves_existing_output_untouched(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.jsonl").write_text('{"kept": true}\n')
    (tmp_path / "p.rill").write_text(
        'source s = file("data/nope.jsonl")\nsink o = file("out/keep.jsonl")\ns | into o\n'
    )
    result = rillet("run", "p.rill", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.decode().strip() == (
        f"rillet: error: source `s`: no such file: data/nope.jsonl (resolved against "
        f"{tmp_path.resolve()})"
    )
    assert (tmp_path / "out" / "keep.jsonl").read_text() == '{"kept": true}\n'


def test_check_runs_the_code_of_a_used_module(tmp_path: Path) -> None:
    """What README and language reference §3.3 warn about: `use` imports, so checking runs."""
    (tmp_path / "side.py").write_text(
        "from pathlib import Path\n"
        "from rillet.runtime.plugin import Plugin\n"
        "Path(__file__).with_name('ran').write_text('yes')\n"
        "plugin = Plugin('side')\n"
    )
    (tmp_path / "p.rill").write_text(
        'use "side.py"\nsource s = generate(count=1)\nsink o = stdout()\ns | into o\n'
    )
    result = rillet("check", "p.rill", cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    assert (tmp_path / "ran").read_text() == "yes"
