"""The latency benchmark on a tiny load: every output of the followed file, and of the Redis
stream, arrives at the sink's file while the engine keeps running. Never timing: the latencies
it prints are not checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_latency_bench_sees_every_output_of_a_followed_file_and_a_stream() -> None:
    command = [sys.executable, str(BENCH / "latency.py"), "--rates", "200", "--seconds", "0.5"]
    done = subprocess.run(
        [*command, "--engines", "rillet", "--inputs", "file,redis"],
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith("rillet ")]
    assert [row[1:3] for row in rows] == [["file", "200"], ["redis", "200"]]
    assert all(row[-1] == "all" for row in rows)
