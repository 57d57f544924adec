"""Every benchmark of the README's performance section in one command, its tables printed as
markdown from that one run: `python bench/all.py [--runs 3] [--events N] [--quick]`.

Runs, one after the other and each as its own process, `run.py` (throughput of W1-W6 against
the floors and the peers), `latency.py` (W1 on a followed file and a Redis stream), `memory.py`
(peak memory as the input grows) and `checkpoint.py` (what checkpoints cost a large state), each
still runnable alone. Each script's own output is echoed as it comes; the tables follow at the
end. Lines a table does not hold (notes, a script's extra rows) are kept below it. `--quick`
runs everything on tiny inputs: to see that it all works, not to measure.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
NUMBER = r"[\d,.]+"


def run(script: str, *args: str) -> tuple[list[str], bool]:
    """The script's output lines, echoed as they come; whether it succeeded."""
    command = [sys.executable, str(HERE / script), *args]
    print(f"$ {' '.join(command[1:])}", flush=True)
    process = subprocess.Popen(command, cwd=HERE, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        print(line, end="", flush=True)
        lines.append(line.rstrip("\n"))
    return lines, process.wait() == 0


def table(header: list[str], rows: list[list[str]], notes: list[str], left: int = 2) -> str:
    """A markdown table (its first `left` columns text, the others numbers), then the notes."""
    align = ["---" if i < left else "---:" for i in range(len(header))]
    lines = [f"| {' | '.join(header)} |", f"| {' | '.join(align)} |"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    return "\n".join([*lines, *(note for note in notes if note.strip())])


def throughput(lines: list[str]) -> str:
    """`run.py`'s rows, each workload's title for its name."""
    rows, notes, pending = [], [], []
    shape = re.compile(rf"^(\S+)\s+(\S+)\s+({NUMBER})\s+({NUMBER})\s+({NUMBER})\s+({NUMBER}) MiB")
    for line in lines:
        found = shape.match(line)
        if found:
            workload, engine, per_s, floor, cpu, rss = found.groups()
            pending.append([workload, engine, per_s, floor, cpu, f"{rss} MiB"])
        elif line.strip().startswith("(") and pending:  # the workload's title, after its rows
            title = f"{pending[0][0]} {line.strip()[1:-1]}"
            rows += [[title if i == 0 else "", *row[1:]] for i, row in enumerate(pending)]
            pending = []
        elif not line.startswith("workload"):
            notes.append(line)
    rows += pending
    header = ["workload", "engine", "events/s", "× floor", "CPU × floor", "peak RSS"]
    return table(header, rows, notes)


def latency(lines: list[str]) -> str:
    """`latency.py`'s rows, one per input and rate, the engines side by side."""
    shape = re.compile(
        rf"^(\S+)\s+(\S+)\s+({NUMBER})\s+{NUMBER}\s+({NUMBER})\s+({NUMBER})\s+({NUMBER})"
    )
    by_rate: dict[tuple[str, str], dict[str, list[str]]] = {}
    engines: list[str] = []
    notes = []
    for line in lines:
        found = shape.match(line)
        if found is None:
            if not line.startswith(("engine", "W1,")):
                notes.append(line)
            continue
        engine, via, rate, p50, p99, top = found.groups()
        engines += [engine] if engine not in engines else []
        by_rate.setdefault((via, rate), {})[engine] = [p50, p99, top]
    header = ["input", "events/s"]
    header += [f"{e} {p}" if p == "p50" else p for e in engines for p in ("p50", "p99", "max")]
    rows = [
        [via, rate, *(x for e in engines for x in found.get(e, ["", "", ""]))]
        for (via, rate), found in by_rate.items()
    ]
    return table(header, rows, notes, left=1)


def memory(lines: list[str]) -> str:
    """`memory.py`'s rows: a workload's engines side by side, one column per input size."""
    sizes: list[str] = []
    engines: list[str] = []
    by_workload: dict[str, list[str]] = {}
    notes = []
    for line in lines:
        if line.startswith("workload"):
            sizes = re.findall(r"([\d,]+) events", line)
            continue
        cells, values = line.split(), re.findall(rf"({NUMBER}) MiB", line)
        if len(cells) < 2 or not values:
            notes.append(line)
            continue
        engines += [cells[1]] if cells[1] not in engines else []
        by_workload.setdefault(cells[0], []).extend(f"{v} MiB" for v in values)
    header = ["workload", *(f"{e} {n}" for e in engines for n in sizes)]
    return table(header, [[w, *values] for w, values in by_workload.items()], notes, left=1)


def as_is(lines: list[str]) -> str:
    """`checkpoint.py` prints its table in markdown already."""
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", default="3", help="run.py's runs per engine")
    parser.add_argument("--events", default="1000000", help="run.py's events per workload")
    parser.add_argument("--quick", action="store_true", help="tiny inputs: a check, no measure")
    args = parser.parse_args()
    quick = args.quick
    steps: list[tuple[str, str, list[str], Callable[[list[str]], str]]] = [
        (
            "Throughput",
            "run.py",
            ["--runs", "1" if quick else args.runs, "--events", "3000" if quick else args.events],
            throughput,
        ),
        (
            "Latency",
            "latency.py",
            ["--rates", "200", "--seconds", "0.5"] if quick else [],
            latency,
        ),
        ("Peak memory", "memory.py", ["--sizes", "3000,6000"] if quick else [], memory),
        (
            "Checkpoints",
            "checkpoint.py",
            ["--clicks", "20000", "--within", "5s"] if quick else [],
            as_is,
        ),
    ]
    tables, failed = [], []
    for title, script, script_args, shown in steps:
        lines, ok = run(script, *script_args)
        failed += [] if ok else [script]
        tables.append(f"### {title} (`bench/{script}`)\n\n{shown(lines)}")
    print("\n\n" + "\n\n".join(tables))
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
