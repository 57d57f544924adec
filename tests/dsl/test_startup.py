"""Start-up: what `rillet run` imports, and the names written out so that it imports less.
Its speed is measured in bench/ (`bench/run.py --only startup`), never asserted here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
