"""What checkpoints cost a run holding a large state: `python bench/checkpoint.py [--clicks N]
[--within 600s] [--before DIR]`.

A join holds every click of the last `within` (the orders it could meet are filtered out, so
it writes nothing and all its time is its state): run once checkpointing every 250 ms, once
with checkpoints only at the end of the input, and the ratio of their wall times, in one run.
`--before DIR` runs the same from another source tree of rillet (a checkout of main, say: its
`dsl/`, `runtime/`, `stdlib/` under `DIR/rillet/`), so the change shows before and after
side by side. Each run's summary gives the checkpoints taken and the join's state.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from run import HERE, input_files

OFTEN, NEVER = "250ms", "1h"  # a run's checkpoints at the end of the input only
PIPELINE = """# bench/checkpoint.py: a join holding every click of the last {within}
param input = "data/clicks.jsonl"
param orders_input = "data/orders.jsonl"
set checkpoint_interval = {interval}

schema Click {{
  ts: int
  user: int
  page: str
  status: int
  latency_ms: float
}}

source click_log: Click = file(input)
source orders = file(orders_input)
sink out = file("out/checkpoint.jsonl")

stream clicks = click_log | event_time ts lateness 2s

orders | where order_id < 0 | event_time ts lateness 2s
  | join clicks on user within {within}
  | into out
"""


class Timed(NamedTuple):
    wall_s: float
    checkpoints: list[str]
    """From the run summary: checkpoints taken, their median time, bytes written (and by
    compacting), the largest state; dashes from a rillet that did not show them."""


SUMMARY = re.compile(
    r"checkpoints (\d+)\s+took \S+ s \(median (\S+ s)\).*?wrote (\S+ \S+)"
    r"(?: \(\+(\S+ \S+) compacting\))?"
)


def timed(tree: Path | None, pipeline: Path, inputs: list[Path], state: Path) -> Timed:
    """One run from scratch; `tree`: the source tree to run rillet from (None: installed)."""
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    params = ["-p", f"input={inputs[0]}", "-p", f"orders_input={inputs[1]}"]
    command = [sys.executable, "-m", "rillet.dsl.entry", "run", str(pipeline), *params]
    command += ["--fresh", "--state-dir", str(state)]
    began = time.perf_counter()
    done = subprocess.run(command, cwd=HERE, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stderr}")
    summary = done.stderr[done.stderr.rfind("rillet: finished") :]
    found = SUMMARY.search(summary)
    largest = re.findall(r"join@\d+\s+largest state\s+(\S+ \S+)", summary)
    if found is None:
        return Timed(wall, ["-"] * 5)
    count, median, wrote, compacted = found.groups()
    return Timed(wall, [count, median, wrote, compacted or "0", *(largest or ["-"])])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clicks", type=int, default=1_000_000)
    parser.add_argument("--within", default="600s", help="the join's span: its state")
    parser.add_argument("--before", type=Path, help="a source tree of rillet to compare with")
    parser.add_argument("--data", type=Path, default=HERE / "data")
    args = parser.parse_args()
    inputs = input_files("W5", args.clicks, args.data)
    trees = {"rillet": None, **({"rillet before": args.before} if args.before else {})}
    print(f"join of {args.clicks:,} clicks within {args.within}, checkpoints every {OFTEN}\n")
    print(
        "| engine | checkpoints at the end | every 250 ms | ratio | checkpoints | median took "
        "| wrote | compacting | join's largest state |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as scratch:
        pipelines = {}
        for interval in (NEVER, OFTEN):
            path = pipelines[interval] = Path(scratch) / f"checkpoint-{interval}.rill"
            path.write_text(PIPELINE.format(within=args.within, interval=interval))
        for name, tree in trees.items():
            runs = {
                interval: timed(tree, path, inputs, Path(scratch) / f"state-{name}-{interval}")
                for interval, path in pipelines.items()
            }
            never, often = runs[NEVER].wall_s, runs[OFTEN].wall_s
            print(
                f"| {name} | {never:.2f} s | {often:.2f} s | {often / never:.2f}x "
                f"| {' | '.join(runs[OFTEN].checkpoints)} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
