"""Run the benchmarks as whole processes on the same data and print a table.

`python bench/run.py [--events N] [--runs K] [--only W1,W2] [--check-only]`: for each workload,
the median events/s of K runs of every engine, its ratio to the hand-written floor measured in
the same run, and peak RSS. Engines: the floor (one plain msgspec loop), rillet, the naive
asyncio baseline (one task per stage, one record per queue hop) and, when importable (`pip
install -e '.[bench]'`), bytewax and streamz. Every engine's output is checked equal to the
floor's byte for byte; the run fails if one differs. `--check-only` runs each engine once and
only checks the outputs (the CI smoke test: never timing).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKLOADS = {
    "W1": ("stateless: parse, filter, project, write", "floor_w1.py", "w1.rill"),
    "W2": ("per-user 10 s tumbling windows", "floor_w2.py", "w2.rill"),
}
PEERS = ("bytewax", "streamz")  # optional: skipped with a note when not importable


ENVIRONMENT = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
"""As a user runs them: with compiled bytecode cached (an installed package has it), so start-up
is not measured compiling every module again."""


def measure(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=HERE, stdout=subprocess.DEVNULL, env=ENVIRONMENT)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"failed ({status}): {' '.join(command)}")
    return elapsed, usage.ru_maxrss


def digest(path: Path) -> str:
    """Read in chunks: a child forked from a large parent would report the parent's RSS."""
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()[:16]


def engines(name: str, data: Path, out: Path) -> dict[str, tuple[list[str], Path]]:
    """Each engine's command for workload `name`, and the file it writes."""
    _, floor_script, pipeline = WORKLOADS[name]
    python = sys.executable
    found = {
        "floor": [python, str(HERE / floor_script), str(data)],
        # --fresh: a finished checkpoint from the previous run would make this one read nothing
        "rillet": [
            python,
            "-m",
            "rillet.dsl.cli",
            "run",
            "--quiet",
            "--fresh",
            "--state-dir",
            str(out / f".rillet-{name}"),
            str(HERE / pipeline),
            "-p",
            f"input={data}",
            "-p",
        ],
        "asyncio": [python, str(HERE / "naive.py"), name, str(data)],
    }
    for peer in PEERS:
        if importlib.util.find_spec(peer) is not None:
            found[peer] = [python, str(HERE / f"peer_{peer}.py"), name, str(data)]
    result = {}
    for engine, command in found.items():
        target = out / f"{name}-{engine}.jsonl"
        last = f"output={target}" if engine == "rillet" else str(target)
        result[engine] = ([*command, last], target)
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default=",".join(WORKLOADS))
    parser.add_argument(
        "--check-only",
        action="store_true",
        help="run each engine once and only compare outputs (no timing)",
    )
    parser.add_argument("--data", type=Path, default=HERE / "data", help="generated input")
    parser.add_argument("--out", type=Path, default=HERE / "out", help="engines' outputs")
    args = parser.parse_args()
    data = args.data / f"clicks-{args.events}.jsonl"
    if not data.exists():
        subprocess.run(
            [sys.executable, str(HERE / "gen.py"), str(args.events), str(data)], check=True
        )
    args.out.mkdir(parents=True, exist_ok=True)
    missing = [p for p in PEERS if importlib.util.find_spec(p) is None]
    if missing:
        print(
            f"note: skipping {', '.join(missing)} (not importable; "
            "pip install -e '.[bench]' to compare)"
        )
    runs = 1 if args.check_only else args.runs
    if not args.check_only:
        print(f"{args.events:,} events, median of {runs} runs")
        print(
            f"{'workload':<10}{'engine':<10}{'events/s':>12}{'x floor':>9}{'peak RSS':>11}  output"
        )
    differ = []
    for name in args.only.split(","):
        title = WORKLOADS[name][0]
        results = {}
        commands = engines(name, data, args.out)
        for engine, (command, _) in commands.items():
            measured = [measure(command) for _ in range(runs)]
            results[engine] = (
                statistics.median(m[0] for m in measured),
                max(m[1] for m in measured),
            )
        reference = digest(commands["floor"][1])
        same = {engine: digest(target) == reference for engine, (_, target) in commands.items()}
        differ += [f"{name} {engine}" for engine, ok in same.items() if not ok]
        if args.check_only:
            print(
                f"{name}: "
                + ", ".join(f"{e} {'equal' if ok else 'DIFFERS'}" for e, ok in same.items())
            )
            continue
        floor_s = results["floor"][0]
        for engine, (seconds, rss_kib) in results.items():
            check = "" if engine == "floor" else ("equal" if same[engine] else "DIFFERS")
            print(
                f"{name:<10}{engine:<10}{args.events / seconds:>12,.0f}"
                f"{floor_s / seconds:>9.2f}{rss_kib / 1024:>8.0f} MiB  {check}"
            )
        print(f"{'':<10}({title})")
    if differ:
        print(f"outputs differ from the floor's: {', '.join(differ)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
