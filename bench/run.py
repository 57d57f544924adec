"""Run the benchmarks as whole processes on the same data and print a table.

`python bench/run.py [--events N] [--runs K] [--only W1,W2]`: for each workload, the median
events/s of K runs of the hand-written floor and of rillet, rillet's ratio to the floor measured
in the same run, and peak RSS. The two outputs are checked equal byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
OUT = HERE / "out"
WORKLOADS = {
    "W1": ("stateless: parse, filter, project, write", "floor_w1.py", "w1.rill"),
    "W2": ("per-user 10 s tumbling windows", "floor_w2.py", "w2.rill"),
}


def measure(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=HERE, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"failed ({status}): {' '.join(command)}")
    return elapsed, usage.ru_maxrss


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default=",".join(WORKLOADS))
    args = parser.parse_args()
    data = DATA / f"clicks-{args.events}.jsonl"
    if not data.exists():
        subprocess.run([sys.executable, str(HERE / "gen.py"), str(args.events), str(data)],
                       check=True)
    OUT.mkdir(exist_ok=True)
    print(f"{args.events:,} events, median of {args.runs} runs")
    print(f"{'workload':<10}{'engine':<10}{'events/s':>12}{'x floor':>9}{'peak RSS':>11}  output")
    for name in args.only.split(","):
        title, floor_script, pipeline = WORKLOADS[name]
        floor_out, rillet_out = OUT / f"{name}-floor.jsonl", OUT / f"{name}-rillet.jsonl"
        engines = {
            "floor": [sys.executable, str(HERE / floor_script), str(data), str(floor_out)],
            "rillet": [sys.executable, "-m", "rillet.dsl.cli", "run", "--quiet",
                       str(HERE / pipeline), "-p", f"input={data}", "-p", f"output={rillet_out}"],
        }
        results = {}
        for engine, command in engines.items():
            runs = [measure(command) for _ in range(args.runs)]
            results[engine] = (statistics.median(r[0] for r in runs), max(r[1] for r in runs))
        same = digest(floor_out) == digest(rillet_out)
        floor_s = results["floor"][0]
        for engine, (seconds, rss_kib) in results.items():
            check = ("equal" if same else "DIFFERS") if engine == "rillet" else ""
            print(f"{name:<10}{engine:<10}{args.events / seconds:>12,.0f}"
                  f"{floor_s / seconds:>9.2f}{rss_kib / 1024:>8.0f} MiB  {check}")
        print(f"{'':<10}({title})")


if __name__ == "__main__":
    main()
