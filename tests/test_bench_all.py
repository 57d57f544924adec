"""`bench/all.py` turns each benchmark's output into the README's markdown tables, and
`bench/checkpoint.py` runs its two checkpointing runs to the end. Never timing: the numbers
below are made up, and those the checkpoint run prints are not checked."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parent.parent / "bench"


def bench_all() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_all", BENCH / "all.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_throughput_rows_become_a_table_under_their_workloads_title() -> None:
    lines = [
        "1,000 events, median of 1 runs",
        "workload  engine        events/s  x floor  CPU x floor   peak RSS  output",
        "W1        floor          100,000     1.00         1.00      18 MiB  ",
        "W1        rillet          50,000     0.50         0.45      49 MiB  equal",
        "          (stateless)",
    ]
    assert bench_all().throughput(lines).splitlines() == [
        "| workload | engine | events/s | × floor | CPU × floor | peak RSS |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
        "| W1 stateless | floor | 100,000 | 1.00 | 1.00 | 18 MiB |",
        "|  | rillet | 50,000 | 0.50 | 0.45 | 49 MiB |",
        "1,000 events, median of 1 runs",
    ]


def test_latency_rows_put_the_engines_side_by_side() -> None:
    lines = [
        "engine   input     rate/s  achieved/s   p50 ms   p99 ms   max ms  outputs",
        "rillet   file       1,000       1,000      0.8      1.7      6.5  all",
        "bytewax  file       1,000       1,000      0.7      2.2      6.6  all",
        "rillet   redis      1,000         999      1.0      3.0      9.0  all",
    ]
    assert bench_all().latency(lines).splitlines()[2:] == [
        "| file | 1,000 | 0.8 | 1.7 | 6.5 | 0.7 | 2.2 | 6.6 |",
        "| redis | 1,000 | 1.0 | 3.0 | 9.0 |  |  |  |",
    ]


def test_memory_rows_give_one_column_per_engine_and_size() -> None:
    lines = [
        "workload  engine       1,000 events      2,000 events",
        "W1        floor            17.6 MiB          17.8 MiB",
        "W1        rillet           49.4 MiB          49.5 MiB",
    ]
    assert bench_all().memory(lines).splitlines() == [
        "| workload | floor 1,000 | floor 2,000 | rillet 1,000 | rillet 2,000 |",
        "| --- | ---: | ---: | ---: | ---: |",
        "| W1 | 17.6 MiB | 17.8 MiB | 49.4 MiB | 49.5 MiB |",
    ]


def test_checkpoint_bench_runs_both_ways(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "checkpoint.py"), "--clicks", "3000", "--within", "5s"]
        + ["--data", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (row,) = [line for line in done.stdout.splitlines() if line.startswith("| rillet |")]
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[3].endswith("x") and int(cells[4]) >= 1  # a ratio; checkpoints were taken
