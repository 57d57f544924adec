"""The benchmark runner on tiny data: every engine's output equals the floor's. Never timing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_bench_engines_agree_on_small_input(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "run.py"),
            "--events",
            "3000",
            "--runs",
            "1",
            "--check-only",
            "--data",
            str(tmp_path / "data"),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for workload in ("W1", "W2"):
        (line,) = [x for x in lines if x.startswith(f"{workload}: ")]
        assert "floor equal, rillet equal, asyncio equal" in line
        assert "DIFFERS" not in line
    for workload in ("W3", "W4", "W5", "W6"):  # the stateful ones: sliding, session, join, dedupe
        (line,) = [x for x in lines if x.startswith(f"{workload}: ")]
        assert line.startswith(f"{workload}: floor equal, rillet equal")
        assert "DIFFERS" not in line
