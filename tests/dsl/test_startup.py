"""Start-up: what `rillet run` imports, the names written out so that it imports less, and
where the grammar's parser tables are cached. Its speed is measured in bench/
(`bench/run.py --only startup`), never asserted here."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rillet.dsl import entry
from rillet.dsl.arguments import GRAPH_FORMATS
from rillet.dsl.graph import FORMATS
from tests.conftest import REPO

# what a run of a file-to-file pipeline has no use for
UNUSED_BY_A_RUN = (
    "rillet.dsl.graph",
    "rillet.runtime.join",
    "rillet.runtime.window",
    "rillet.runtime.session",
    "rillet.runtime.aggregate",
    "rillet.stdlib.kafka",  # the connectors it does not name (`Later`)
    "rillet.stdlib.redis_stream",
    "rillet.stdlib.sqlite",
    "rillet.stdlib.generate",
    "sqlite3",
    "difflib",  # a did-you-mean for a mistake
    "statistics",  # the checkpoints' summary
)

_LOADED = """
import sys
from rillet.dsl.cli import main
code = main(sys.argv[1:])
print(" ".join(sorted(sys.modules)))
sys.exit(code)
"""


def test_graph_format_names_match_the_drawings() -> None:
    assert tuple(FORMATS) == GRAPH_FORMATS


def test_run_leaves_unused_modules_unimported(tmp_path: Path) -> None:
    events = tmp_path / "one.jsonl"
    events.write_text('{"ts":1767225600000,"user":1,"page":"/a","status":200,"latency_ms":300.5}\n')
    out = tmp_path / "out.jsonl"
    command = [sys.executable, "-c", _LOADED, "run", "--quiet", "--state-dir", str(tmp_path)]
    command += [str(REPO / "bench" / "w1.rill"), "-p", f"input={events}", "-p", f"output={out}"]
    result = subprocess.run(command, capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr.decode()
    assert out.read_text() == '{"user":1,"page":"/a","latency_ms":300.5,"slow":true}\n'
    loaded = set(result.stdout.decode().split())
    assert not loaded & set(UNUSED_BY_A_RUN)


def _check(tmp_path: Path, cache_home: Path) -> subprocess.CompletedProcess:
    pipeline = tmp_path / "p.rill"
    pipeline.write_text("source s = generate(count=1)\nsink o = stdout()\ns | into o\n")
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home)}
    command = [sys.executable, "-m", "rillet.dsl.cli", "check", str(pipeline)]
    return subprocess.run(command, capture_output=True, timeout=60, env=env, check=False)


def test_grammar_tables_are_cached_in_the_users_cache_folder(tmp_path: Path) -> None:
    for _ in range(2):  # the second run reads what the first wrote
        result = _check(tmp_path, tmp_path / "cache")
        assert result.returncode == 0, result.stderr.decode()
    kept = sorted(p.name.split("-")[0] for p in (tmp_path / "cache" / "rillet").iterdir())
    assert kept == ["grammar", "installed", "parsed"]  # grammar tables, plugins, trees


def test_a_cache_folder_that_cannot_be_made_leaves_the_grammar_uncached(tmp_path: Path) -> None:
    taken = tmp_path / "a-file"
    taken.write_text("")
    result = _check(tmp_path, taken)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr.decode().startswith("ok: "), result.stderr.decode()


def test_the_entry_point_runs_the_command_and_leaves_the_collector_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline = tmp_path / "p.rill"
    pipeline.write_text("source s = generate(count=1)\nsink o = stdout()\ns | into o\n")
    monkeypatch.setattr(sys, "argv", ["rillet", "check", str(pipeline)])
    assert entry.main() == 0
    assert capsys.readouterr().err.startswith("ok: ")
    assert gc.isenabled()
