"""The latency benchmark on a tiny load: every output of the followed file arrives at the sink's
file while the engine keeps running. Never timing: the latencies it prints are not checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_latency_bench_sees_every_output_of_a_followed_file() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "latency.py"), "--rates", "200", "--seconds", "0.5"],
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith("rillet ")]
    assert len(rows) == 1
    assert rows[0][1] == "200"
    assert rows[0][-1] == "all"
