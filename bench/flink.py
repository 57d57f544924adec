"""W1 and W2 on the embedded engine and on Flink (a local mini-cluster) over the same file.

`python bench/flink.py [--events N] [--parallelism 1,2]`: each run is a whole `rillet run`
process, as a user runs it. Flink's fixed cost (JVM and mini-cluster start-up, job submission)
is measured apart, as the same pipeline over a one-event file, and subtracted to give its
processing rate. Every Flink output is checked equal to the embedded one as a multiset (floats
to 12 significant digits: a sum's last bits follow the order of its additions), by sorting
both files' records as canonical lines on disk (GNU `sort`), so 10M records need no memory to
speak of; the run fails if one differs. Needs `rillet[flink]` and Java 17.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gen import write_events  # noqa: E402

PIPELINES = {"W1": "w1.rill", "W2": "w2.rill"}


def _run(pipeline: Path, data: Path, out: Path, *engine: str) -> float:
    command = [sys.executable, "-m", "rillet.dsl.entry", "run", "-q", "--fresh", *engine]
    command += ["-p", f"input={data}", "-p", f"output={out}", str(pipeline)]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - started


def _canonical(path: Path, into: Path) -> None:
    """Each record as one line, keys sorted, floats to 12 significant digits."""
    with path.open() as f, into.open("w") as out:
        for line in f:
            if line.strip():
                record = json.loads(line)
                rounded = {k: float(f"{v:.12g}") if isinstance(v, float) else v
                           for k, v in record.items()}  # fmt: skip
                out.write(json.dumps(rounded, sort_keys=True) + "\n")


def _same(a: Path, b: Path) -> bool:
    """Whether two JSON-lines files hold the same records, as multisets."""
    sorted_files = []
    for path in (a, b):
        lines, ordered = path.with_suffix(".lines"), path.with_suffix(".sorted")
        _canonical(path, lines)
        subprocess.run(
            ["sort", "-S", "512M", "-T", str(path.parent), "-o", str(ordered), str(lines)],
            check=True,
            env={**os.environ, "LC_ALL": "C"},
        )
        lines.unlink()
        sorted_files.append(ordered)
    same = filecmp.cmp(*sorted_files, shallow=False)
    for ordered in sorted_files:
        ordered.unlink()
    return same


def _rate(events: int, processing: float) -> str:
    """Events/s past start-up, unless the difference is within start-up's own spread (a
    second or more on a loaded machine), where a rate would be noise."""
    if processing < 1.0:
        return "processing within start-up's noise"
    return f"{events / processing:,.0f} events/s after start-up"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--parallelism", default="1,2")
    args = parser.parse_args()
    levels = [int(p) for p in args.parallelism.split(",")]
    with tempfile.TemporaryDirectory(prefix="rillet-bench-flink-") as scratch:
        folder = Path(scratch)
        data, tiny = folder / "clicks.jsonl", folder / "one.jsonl"
        write_events(args.events, data)
        write_events(1, tiny)
        print(f"{args.events:,} events; times are whole processes, wall clock")
        ok = True
        for name, file in PIPELINES.items():
            pipeline = folder / file
            shutil.copy(HERE / file, pipeline)
            embedded = _run(pipeline, data, folder / "embedded.jsonl")
            print(f"{name} embedded: {embedded:.1f} s, {args.events / embedded:,.0f} events/s")
            for p in levels:
                flink = ("--engine", "flink", "--parallelism", str(p))
                fixed = _run(pipeline, tiny, folder / "tiny.jsonl", *flink)
                total = _run(pipeline, data, folder / "flink.jsonl", *flink)
                same = _same(folder / "embedded.jsonl", folder / "flink.jsonl")
                ok &= same
                print(
                    f"{name} flink p={p}: {total:.1f} s; start-up (a one-event run) "
                    f"{fixed:.1f} s; {_rate(args.events, total - fixed)}; "
                    f"{'same records' if same else 'RECORDS DIFFER'}"
                )
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
