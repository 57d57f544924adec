"""End-to-end latency of W1 on a followed file and on a Redis stream, for rillet and bytewax:
`python bench/latency.py`.

`[--rates 1000,10000,100000] [--seconds 5] [--engines rillet,bytewax] [--inputs file,redis]`:
for each input, rate and engine, a fresh engine process follows an empty file
(`w1_latency.rill`, `latency_bytewax.py`) or reads a new Redis stream through a consumer group
(`w1_latency_redis.rill`, `latency_bytewax.py --redis`; the test Redis of tests/servers.py,
started if it is not running); this process appends the benchmark's click events to it at that
rate (to the stream, one entry per event, pipelined), each write stamped in
`ts` with the wall clock (epoch µs) just before it; a reader process tails the engine's output
file and takes the time each output line shows up there. Latency is that time minus the stamp:
everything from the event being written to its result being readable, as a user of the output
sees it. A few events written first, stamped 0, wait for the engine to be up and are left out.
The table gives p50/p99/max and the events/s the writer achieved (the engine keeps up when
every expected output arrived). Each run writes for 12 s, so that one of rillet's checkpoints
(every 10 s by default, acknowledging what it covers) falls in it, as it does in a run that
goes on; two engines' runs at three rates take about three minutes per input; bytewax is
skipped when not importable (`pip install -e '.[bench]'`). Never a test of speed: the smoke test
runs it tiny and checks only that every output arrived.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from pathlib import Path

import msgspec

from rillet.stdlib.generate import START_MS, click_events

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests.servers, which starts the test Redis
POOL = 20_000  # distinct events, cycled: generating one per written event would slow the writer
WARMUP = 50
START_TIMEOUT_S = 30.0
DRAIN_S = 3.0  # after the last write, how long the last outputs may take before they count lost
READ_POLL_S = 0.0002  # the reader's resolution: it adds at most this to what it measures


@dataclass(frozen=True)
class Events:
    """The pool's lines without their `ts`: each write prefixes the stamp."""

    tails: list[bytes]
    kept: list[bool]  # whether W1's `where status == 200` keeps the event

    @classmethod
    def generate(cls) -> Events:
        import random

        tails, kept = [], []
        for event in click_events(random.Random(0), 0, POOL, START_MS, 1.0):
            line = msgspec.json.encode(event)
            tails.append(line[len(b'{"ts":%d' % event["ts"]) :] + b"\n")
            kept.append(event["status"] == 200)
        return cls(tails, kept)

    def lines(self, stamp: int, first: int, stop: int) -> list[bytes]:
        head = b'{"ts":%d' % stamp
        return [head + self.tails[i % POOL] for i in range(first, stop)]

    def kept_between(self, first: int, stop: int) -> int:
        return sum(self.kept[i % POOL] for i in range(first, stop))


class Stamp(msgspec.Struct):
    ts: int


def tail(path: Path, seen: Synchronized, expected: Synchronized, stop: Event, out: Connection):
    """Follow `path` until `expected` lines came (or `stop`); send back each stamped line's
    latency in µs. Only arrival times are taken while following: decoding waits till the end."""
    while not path.exists() and not stop.is_set():
        time.sleep(READ_POLL_S)
    arrivals: list[tuple[int, bytes]] = []
    with open(path, "rb") as f:
        while not stop.is_set():
            data = f.read()
            if data:
                arrivals.append((time.time_ns() // 1000, data))
                seen.value += data.count(b"\n")
            elif 0 <= expected.value <= seen.value:
                break
            else:
                time.sleep(READ_POLL_S)
    decode = msgspec.json.Decoder(Stamp).decode
    latencies, rest = [], b""
    for arrived_us, data in arrivals:
        lines = (rest + data).split(b"\n")
        rest = lines.pop()
        latencies += [arrived_us - ts for ts in (decode(line).ts for line in lines) if ts > 0]
    out.send(latencies)
    out.close()


class Input:
    """Where the events are written and the engine reads them: a followed file."""

    name = "file"

    def __init__(self, folder: Path) -> None:
        self.path = folder / "in.jsonl"
        self.path.touch()
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)

    def write(self, lines: list[bytes]) -> None:
        os.write(self.fd, b"".join(lines))

    def close(self) -> None:
        os.close(self.fd)

    def command(self, engine: str, target: Path, state: Path) -> list[str]:
        if engine == "bytewax":
            return [sys.executable, str(HERE / "latency_bytewax.py"), str(self.path), str(target)]
        return [*rillet_run(state, "w1_latency.rill", target), "-p", f"input={self.path}"]


class RedisInput(Input):
    """A new Redis stream, one entry per event (its JSON in `data`), as the `redis_stream`
    source reads them."""

    name = "redis"

    def __init__(self, folder: Path) -> None:
        from tests.servers import REDIS, redis_client

        self.client = redis_client()  # starting the test Redis if it is not running
        self.url = REDIS.url
        self.stream = f"latency-{uuid.uuid4().hex[:10]}"

    def write(self, lines: list[bytes]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for line in lines:
            pipe.xadd(self.stream, {"data": line[:-1]})
        pipe.execute()

    def close(self) -> None:
        self.client.delete(self.stream)
        self.client.close()

    def command(self, engine: str, target: Path, state: Path) -> list[str]:
        if engine == "bytewax":
            script = str(HERE / "latency_bytewax.py")
            return [sys.executable, script, "--redis", self.url, self.stream, str(target)]
        rillet = rillet_run(state, "w1_latency_redis.rill", target)
        return [*rillet, "-p", f"url={self.url}", "-p", f"stream={self.stream}"]


INPUTS: dict[str, Callable[[Path], Input]] = {"file": Input, "redis": RedisInput}


def rillet_run(state: Path, pipeline: str, target: Path) -> list[str]:
    return [
        *(sys.executable, "-m", "rillet.dsl.entry", "run", "--quiet", "--fresh"),
        *("--state-dir", str(state), str(HERE / pipeline), "-p", f"output={target}"),
    ]


@dataclass(frozen=True)
class Result:
    latencies_us: list[int]
    achieved_per_s: float
    expected: int


def write_at_rate(into: Input, events: Events, first: int, rate: int, seconds: float):
    """Append `rate * seconds` events from index `first`, as many as are due at each write;
    (events written, seconds it took)."""
    total = int(rate * seconds)
    started = time.perf_counter()
    written = 0
    while written < total:
        due = min(total, int((time.perf_counter() - started) * rate) + 1)
        if due > written:
            stamp = time.time_ns() // 1000
            into.write(events.lines(stamp, first + written, first + due))
            written = due
        time.sleep(max(0.0, started + written / rate - time.perf_counter()))
    return written, time.perf_counter() - started


def run_one(
    engine: str, via: str, rate: int, seconds: float, events: Events, folder: Path
) -> Result:
    into, target = INPUTS[via](folder), folder / "out.jsonl"
    forking = multiprocessing.get_context("fork")
    seen, expected, stop = forking.Value("q", 0), forking.Value("q", -1), forking.Event()
    receiving, sending = forking.Pipe(duplex=False)
    reader = forking.Process(target=tail, args=(target, seen, expected, stop, sending))
    reader.start()
    errors = open(folder / "stderr.txt", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        into.command(engine, target, folder / "state"),
        cwd=HERE,
        stdout=subprocess.DEVNULL,
        stderr=errors,
    )
    try:
        into.write(events.lines(0, 0, WARMUP))
        warm = events.kept_between(0, WARMUP)
        deadline = time.monotonic() + START_TIMEOUT_S
        while seen.value < warm:
            if process.poll() is not None or time.monotonic() > deadline:
                said = (folder / "stderr.txt").read_text()
                raise SystemExit(f"{engine} did not start ({process.args}):\n{said}")
            time.sleep(0.01)
        written, took_s = write_at_rate(into, events, WARMUP, rate, seconds)
        expected.value = warm + events.kept_between(WARMUP, WARMUP + written)
        if not receiving.poll(DRAIN_S):  # the reader sends once every expected output came
            stop.set()
        latencies = receiving.recv()
    finally:
        stop.set()
        reader.join()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        errors.close()
        into.close()
    return Result(latencies, written / took_s, expected.value - warm)


def percentile(ordered: list[int], share: float) -> float:
    """Of µs values, in ms."""
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] / 1000


def row(engine: str, via: str, rate: int, result: Result) -> str:
    ordered = sorted(result.latencies_us) or [0]
    got = len(result.latencies_us)
    arrived = "all" if got == result.expected else f"{got}/{result.expected}"
    return (
        f"{engine:<9}{via:<7}{rate:>9,}{result.achieved_per_s:>12,.0f}"
        f"{percentile(ordered, 0.5):>9.1f}{percentile(ordered, 0.99):>9.1f}"
        f"{ordered[-1] / 1000:>9.1f}  {arrived}"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default="1000,10000,100000", help="events/s, comma-separated")
    parser.add_argument(
        "--seconds", type=float, default=12.0, help="writing time per run (a checkpoint in it)"
    )
    parser.add_argument("--engines", default="rillet,bytewax")
    parser.add_argument("--inputs", default="file,redis", help="file and/or redis")
    args = parser.parse_args()
    engines = args.engines.split(",")
    if "bytewax" in engines and importlib.util.find_spec("bytewax") is None:
        print("note: skipping bytewax (not importable; pip install -e '.[bench]' to compare)")
        engines.remove("bytewax")
    events = Events.generate()
    print(f"W1, {args.seconds:g} s per run; latency from write to output")
    print(
        f"{'engine':<9}{'input':<7}{'rate/s':>9}{'achieved/s':>12}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'max ms':>9}  outputs"
    )
    lost = False
    for via in args.inputs.split(","):
        for rate in (int(r) for r in args.rates.split(",")):
            for engine in engines:
                with tempfile.TemporaryDirectory(prefix="rillet-latency-") as folder:
                    result = run_one(engine, via, rate, args.seconds, events, Path(folder))
                lost |= len(result.latencies_us) != result.expected
                print(row(engine, via, rate, result), flush=True)
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
