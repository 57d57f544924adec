"""Run the benchmarks as whole processes on the same data and print a table.

`python bench/run.py [--events N] [--runs K] [--only W1,W2] [--check-only]`: for each workload,
the median events/s of K runs of every engine, its ratio to the hand-written floor measured in
the same run (the engines' runs interleaved, so a change in the machine's load falls on all), the
same ratio of CPU seconds (user + system, steadier on a shared machine), and peak RSS.
Engines: the floor (one plain msgspec loop), rillet, for W1 and W2 the naive asyncio baseline
(one task per stage, one record per queue hop) and, when importable (`pip install -e
'.[bench]'`), bytewax (all workloads) and streamz (W1, W2). Every engine's output is checked
equal to the floor's byte for byte (W5's as sorted lines: its two inputs are read concurrently,
so pairs may come out in another order); the run fails if one differs. `--check-only` runs each
engine once and only checks the outputs (the CI smoke test: never timing). N counts the clicks;
W5 also reads N / 10 orders. `bench/memory.py` shows peak RSS at two input sizes.
`--only startup` (also part of the default) times start-up: the median wall time of `rillet run`
of W1 on a one-line input beside that of `python -c pass`, K runs each (at least 5), in turn.
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
from typing import NamedTuple

HERE = Path(__file__).resolve().parent


class Workload(NamedTuple):
    title: str
    floor: str
    pipeline: str
    peers: tuple[str, ...] = ()  # other engines with a script for it; optional ones in PEERS
    inputs: tuple[str, ...] = ("clicks",)  # generated files (bench/gen.py), the floor's args
    ordered: bool = True  # whether the output's order is fixed (else compared sorted)


NAIVE_AND_PEERS = ("asyncio", "bytewax", "streamz")
WORKLOADS = {
    "W1": Workload(
        "stateless: parse, filter, project, write", "floor_w1.py", "w1.rill", NAIVE_AND_PEERS
    ),
    "W2": Workload("per-user 10 s tumbling windows", "floor_w2.py", "w2.rill", NAIVE_AND_PEERS),
    "W3": Workload(
        "per-user 30 s sliding windows every 10 s", "floor_w3.py", "w3.rill", ("bytewax",)
    ),
    "W4": Workload("per-user session windows, gap 5 s", "floor_w4.py", "w4.rill", ("bytewax",)),
    "W5": Workload(
        "interval join: orders with clicks within 5 s",
        "floor_w5.py",
        "w5.rill",
        ("bytewax",),
        inputs=("clicks", "orders"),
        ordered=False,
    ),
    "W6": Workload("dedupe by user and page within 10 s", "floor_w6.py", "w6.rill", ("bytewax",)),
}
PEERS = ("bytewax", "streamz")  # optional: skipped with a note when not importable
SCRIPTS = {"asyncio": "naive.py", **{peer: f"peer_{peer}.py" for peer in PEERS}}
PARAMS = {"clicks": "input", "orders": "orders_input"}  # the pipelines' params naming inputs


ENVIRONMENT = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
"""As a user runs them: with compiled bytecode cached (an installed package has it), so start-up
is not measured compiling every module again."""


class Measured(NamedTuple):
    wall_s: float
    cpu_s: float  # user + system: less sensitive than wall time to others' load on the machine
    rss_kib: int


def measure(command: list[str]) -> Measured:
    """Wall seconds, CPU seconds and peak RSS (KiB) of one process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=HERE, stdout=subprocess.DEVNULL, env=ENVIRONMENT)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"failed ({status}): {' '.join(command)}")
    return Measured(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)


def digest(path: Path, ordered: bool = True) -> str:
    """Read in chunks: a child forked from a large parent would report the parent's RSS. So
    an unordered output is sorted by `sort` in its own process, in byte order."""
    sha = hashlib.sha256()
    if ordered:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                sha.update(chunk)
        return sha.hexdigest()[:16]
    env = {**os.environ, "LC_ALL": "C"}
    with subprocess.Popen(["sort", str(path)], stdout=subprocess.PIPE, env=env) as process:
        assert process.stdout is not None
        while chunk := process.stdout.read(1 << 20):
            sha.update(chunk)
    if process.returncode != 0:
        raise SystemExit(f"sort failed ({process.returncode}): {path}")
    return sha.hexdigest()[:16]


def input_files(name: str, events: int, data_dir: Path) -> list[Path]:
    """The generated inputs of workload `name`, written first if missing."""
    files = []
    for kind in WORKLOADS[name].inputs:
        path = data_dir / f"{kind}-{events}.jsonl"
        if not path.exists():
            command = [sys.executable, str(HERE / "gen.py"), str(events), str(path), kind]
            subprocess.run(command, check=True)
        files.append(path)
    return files


def engines(name: str, inputs: list[Path], out: Path) -> dict[str, tuple[list[str], Path]]:
    """Each engine's command for workload `name`, and the file it writes."""
    workload = WORKLOADS[name]
    python = sys.executable
    params = [
        arg
        for kind, path in zip(workload.inputs, inputs)
        for arg in ("-p", f"{PARAMS[kind]}={path}")
    ]
    found = {
        "floor": [python, str(HERE / workload.floor), *map(str, inputs)],
        # --fresh: a finished checkpoint from the previous run would make this one read nothing
        "rillet": [
            python,
            "-m",
            "rillet.dsl.entry",  # what the `rillet` command runs
            "run",
            "--quiet",
            "--fresh",
            "--state-dir",
            str(out / f".rillet-{name}"),
            str(HERE / workload.pipeline),
            *params,
            "-p",
        ],
    }
    for engine in workload.peers:
        if engine not in PEERS or importlib.util.find_spec(engine) is not None:
            found[engine] = [python, str(HERE / SCRIPTS[engine]), name, *map(str, inputs)]
    result = {}
    for engine, command in found.items():
        target = out / f"{name}-{engine}.jsonl"
        last = f"output={target}" if engine == "rillet" else str(target)
        result[engine] = ([*command, last], target)
    return result


STARTUP = "startup"
STARTUP_RUNS = 5


def startup(runs: int, data_dir: Path, out: Path) -> None:
    """Print the start-up row: a whole `rillet run` of W1 over one event beside the Python
    interpreter alone, the medians of their wall times, taken in turn."""
    one = input_files("W1", 1, data_dir)[0]
    rillet = engines("W1", [one], out)["rillet"][0]
    python = [sys.executable, "-c", "pass"]
    walls: dict[str, list[float]] = {"rillet": [], "python": []}
    for _ in range(max(runs, STARTUP_RUNS)):
        walls["rillet"].append(measure(rillet).wall_s)
        walls["python"].append(measure(python).wall_s)
    run_s, bare_s = (statistics.median(w) for w in walls.values())
    print(
        f"{'start-up':<10}{'rillet':<10}{run_s:>11.3f}s  (`rillet run` of W1 over one event; "
        f"`python -c pass` {bare_s:.3f}s, so rillet's own {run_s - bare_s:.3f}s)"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default=",".join([*WORKLOADS, STARTUP]))
    parser.add_argument(
        "--check-only",
        action="store_true",
        help="run each engine once and only compare outputs (no timing)",
    )
    parser.add_argument("--data", type=Path, default=HERE / "data", help="generated input")
    parser.add_argument("--out", type=Path, default=HERE / "out", help="engines' outputs")
    args = parser.parse_args()
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
            f"{'workload':<10}{'engine':<10}{'events/s':>12}{'x floor':>9}{'CPU x floor':>13}"
            f"{'peak RSS':>11}  output"
        )
    differ = []
    names = args.only.split(",")
    for name in names:
        if name == STARTUP:
            continue
        title, ordered = WORKLOADS[name].title, WORKLOADS[name].ordered
        commands = engines(name, input_files(name, args.events, args.data), args.out)
        measured: dict[str, list[Measured]] = {engine: [] for engine in commands}
        for _ in range(runs):
            for engine, (command, _) in commands.items():
                measured[engine].append(measure(command))
        results = {
            engine: (
                statistics.median(m.wall_s for m in runs_of),
                statistics.median(m.cpu_s for m in runs_of),
                max(m.rss_kib for m in runs_of),
            )
            for engine, runs_of in measured.items()
        }
        reference = digest(commands["floor"][1], ordered)
        same = {
            engine: digest(target, ordered) == reference for engine, (_, target) in commands.items()
        }
        differ += [f"{name} {engine}" for engine, ok in same.items() if not ok]
        if args.check_only:
            print(
                f"{name}: "
                + ", ".join(f"{e} {'equal' if ok else 'DIFFERS'}" for e, ok in same.items())
            )
            continue
        floor_s, floor_cpu_s, _ = results["floor"]
        for engine, (seconds, cpu_s, rss_kib) in results.items():
            check = "" if engine == "floor" else ("equal" if same[engine] else "DIFFERS")
            print(
                f"{name:<10}{engine:<10}{args.events / seconds:>12,.0f}"
                f"{floor_s / seconds:>9.2f}{floor_cpu_s / cpu_s:>13.2f}"
                f"{rss_kib / 1024:>8.0f} MiB  {check}"
            )
        print(f"{'':<10}({title})")
    if STARTUP in names and not args.check_only:
        startup(runs, args.data, args.out)
    if differ:
        print(f"outputs differ from the floor's: {', '.join(differ)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
