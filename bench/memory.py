"""Peak memory as the input grows: `python bench/memory.py [--sizes 1000000,10000000] [--only W3]`.

Runs the floor and rillet once per workload and input size (generated as `bench/run.py` does)
and prints each one's peak RSS side by side, so state that grows with the input, not with the
open windows or the join's horizon, shows as a column that grows. No timing: one run each.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from run import HERE, WORKLOADS, engines, input_files, measure

ENGINES = ("floor", "rillet")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,10000000", help="clicks per input")
    parser.add_argument("--only", default=",".join(WORKLOADS))
    parser.add_argument("--data", type=Path, default=HERE / "data", help="generated input")
    parser.add_argument("--out", type=Path, default=HERE / "out", help="engines' outputs")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"{'workload':<10}{'engine':<8}" + "".join(f"{f'{n:,} events':>20}" for n in sizes))
    for name in args.only.split(","):
        peaks: dict[str, list[float]] = {engine: [] for engine in ENGINES}
        for size in sizes:
            commands = engines(name, input_files(name, size, args.data), args.out)
            for engine in ENGINES:
                peaks[engine].append(measure(commands[engine][0]).rss_kib / 1024)
        for engine, mib in peaks.items():
            print(f"{name:<10}{engine:<8}" + "".join(f"{m:>16.1f} MiB" for m in mib))


if __name__ == "__main__":
    main()
