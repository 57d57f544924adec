"""W1 and W2 on the embedded engine and on Flink (a local mini-cluster) over the same file.

`python bench/flink.py [--events N] [--parallelism 1,2]`: each run is a whole `rillet run`
process, as a user runs it. Flink's fixed cost (JVM and mini-cluster start-up, job submission)
is measured apart, as the same pipeline over a one-event file, and subtracted to give its
processing rate. Every Flink output is checked equal to the embedded one as a multiset (floats
within 1e-6); the run fails if one differs. Needs `rillet[flink]` and Java 17.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gen import write_events  # noqa: E402

PIPELINES = {"W1": "w1.rill", "W2": "w2.rill"}


def _run(pipeline: Path, data: Path, out: Path, *engine: str) -> float:
    command = [sys.executable, "-m", "rillet.dsl.cli", "run", "-q", "--fresh", *engine]
    command += ["-p", f"input={data}", "-p", f"output={out}", str(pipeline)]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - started


def _records(path: Path) -> list[dict]:
    with path.open() as f:
        return [json.loads(line) for line in f if line.strip()]


def _same(a: list[dict], b: list[dict]) -> bool:
    def key(r: dict) -> str:
        return json.dumps({k: v for k, v in r.items() if not isinstance(v, float)}, sort_keys=True)

    if Counter(map(key, a)) != Counter(map(key, b)):
        return False
    pairs = zip(sorted(a, key=key), sorted(b, key=key))
    return all(
        all(
            math.isclose(x[k], y[k], rel_tol=1e-6) if isinstance(x[k], float) else x[k] == y[k]
            for k in x
        )
        for x, y in pairs
    )


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
            expected = _records(folder / "embedded.jsonl")
            print(f"{name} embedded: {embedded:.1f} s, {args.events / embedded:,.0f} events/s")
            for p in levels:
                flink = ("--engine", "flink", "--parallelism", str(p))
                fixed = _run(pipeline, tiny, folder / "tiny.jsonl", *flink)
                total = _run(pipeline, data, folder / "flink.jsonl", *flink)
                same = _same(expected, _records(folder / "flink.jsonl"))
                ok &= same
                print(
                    f"{name} flink p={p}: {total:.1f} s; start-up (a one-event run) "
                    f"{fixed:.1f} s; {_rate(args.events, total - fixed)}; "
                    f"{'same records' if same else 'RECORDS DIFFER'}"
                )
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
