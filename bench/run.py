"""Run the benchmarks as whole processes on the same data and print a table.

`python bench/run.py [--events N] [--runs K]`: median events/s of K runs, the ratio to the
hand-written floor measured in the same run, and peak RSS. Outputs are checked equal.
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
    args = parser.parse_args()
    data = DATA / f"clicks-{args.events}.jsonl"
    if not data.exists():
        subprocess.run([sys.executable, str(HERE / "gen.py"), str(args.events), str(data)],
                       check=True)
    OUT.mkdir(exist_ok=True)
    engines = {
        "floor (msgspec loop)": [sys.executable, str(HERE / "floor_w1.py"), str(data),
                                 str(OUT / "w1-floor.jsonl")],
        "rillet": [sys.executable, "-m", "rillet.dsl.cli", "run", "--quiet", str(HERE / "w1.rill"),
                   "-p", f"input={data}", "-p", f"output={OUT / 'w1-rillet.jsonl'}"],
    }
    results = {}
    for name, command in engines.items():
        runs = [measure(command) for _ in range(args.runs)]
        results[name] = (statistics.median(r[0] for r in runs), max(r[1] for r in runs))
    outputs = {digest(OUT / "w1-floor.jsonl"), digest(OUT / "w1-rillet.jsonl")}
    floor_s = results["floor (msgspec loop)"][0]
    print(f"W1 stateless, {args.events:,} events, median of {args.runs} runs"
          f" (outputs {'equal' if len(outputs) == 1 else 'DIFFER'})")
    print(f"{'engine':<24}{'events/s':>12}{'x floor':>9}{'peak RSS':>11}")
    for name, (seconds, rss_kib) in results.items():
        print(f"{name:<24}{args.events / seconds:>12,.0f}{floor_s / seconds:>9.2f}"
              f"{rss_kib / 1024:>8.0f} MiB")


if __name__ == "__main__":
    main()
