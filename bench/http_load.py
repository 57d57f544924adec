"""Does scraping a run slow it down, and do scrapes fail under a burst? Whole runs, timed.

`python bench/http_load.py [--count N] [--clients C] [--runs K]`: runs a pipeline on
`generate(count=N)` with `--http 127.0.0.1:0`, K times without load and K times while C clients
request /metrics again and again (`tests/runtime/monitor/load.py`), and prints the median wall
time of each, the slowdown, the requests answered and those that failed (while the run served them,
and in the moment it stops serving as it ends; by reason), and how many
traceback lines the runs wrote to standard error. The load runs in this process, so on a
machine with few cores it competes with the run for them as a real scraper on the same
machine would.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import nullcontext
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.runtime.monitor.load import Tally, crowd  # noqa: E402 - after the path is set

PIPELINE = """\
source s   = generate(count={count})
sink   out = file("out.jsonl")
s | where status == 200 | select ts, user, page, latency_ms | into out
"""
URL = re.compile(r"(http://[0-9.]+:[0-9]+/)")


def run(folder: Path, clients: int) -> tuple[float, Tally, list[str]]:
    """One whole run: its wall seconds, the load's tally, its standard error."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rillet.dsl.entry",
            "run",
            "p.rill",
            "--fresh",
            "--http",
            "127.0.0.1:0",
        ],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line.rstrip("\n"))
            if URL.search(line):
                found.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    found.wait(60)
    url = next(m.group(1) for line in lines if (m := URL.search(line)))
    with crowd(url, clients) if clients else nullcontext(Tally()) as tally:
        process.wait()
    elapsed = time.perf_counter() - started
    reader.join()
    return elapsed, tally, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2_000_000)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "p.rill").write_text(PIPELINE.format(count=args.count))
        quiet, loaded = [], []
        ok, failed, serving, tracebacks = 0, Counter[str](), 0, 0
        for _ in range(args.runs):
            quiet.append(run(folder, 0)[0])
            elapsed, tally, lines = run(folder, args.clients)
            loaded.append(elapsed)
            ok, failed = ok + tally.ok, failed + tally.failed
            serving += tally.failures_while_serving
            tracebacks += sum(line.startswith("Traceback") for line in lines)
    without, under = statistics.median(quiet), statistics.median(loaded)
    print(f"{args.count:,} records, {args.runs} runs each, {args.clients} clients on /metrics")
    print(f"  without load  {without:6.2f} s")
    print(f"  under load    {under:6.2f} s   ({(under / without - 1) * 100:+.0f}%)")
    print(
        f"  requests      {ok:,} answered, {serving:,} failed while the run served them, "
        f"{sum(failed.values()) - serving:,} once it had ended {dict(failed) or ''}"
    )
    print(f"  tracebacks    {tracebacks} on standard error")


if __name__ == "__main__":
    main()
