"""The brokers' own throughput next to rillet reading them: `python bench/broker.py
[--events N] [--nats-events M]`.

Redis (tests/servers.py's server, started when not answering): `XADD` pipelined 1,000 at a time,
then raw `XREADGROUP COUNT 2000` + `XACK` with redis-py (hiredis), both on N ~100-byte JSON click
events (bench/gen.py's); then `rillet run bench/w1_redis.rill` (W1 from that stream, a consumer
group of its own), the same with `--workers 2` (another group; each worker writes its own file),
and `rillet run bench/w1.rill` on the same events from a file, as whole processes. NATS
JetStream: publishing M events into a stream, nats-py's `fetch(1000)` on a pull consumer, and
the `nats` source's own pulls (stdlib/nats.py), each reading all M and acknowledging them.
One run each, on a shared machine: compare ratios, not events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
import uuid
from pathlib import Path

import msgspec

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from rillet.runtime import SystemClock  # noqa: E402
from rillet.runtime.connector import SourceContext  # noqa: E402
from rillet.stdlib.generate import START_MS, click_events  # noqa: E402
from rillet.stdlib.nats import NatsSource, NatsSourceConfig  # noqa: E402
from tests.servers import NATS, REDIS, ensure  # noqa: E402


def events(count: int) -> list[bytes]:
    import random

    encoder = msgspec.json.Encoder()
    rng, out = random.Random(0), []
    for first in range(0, count, 100_000):
        n = min(100_000, count - first)
        out += [encoder.encode(e) for e in click_events(rng, first, n, START_MS, 1.0)]
    return out


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>12,.0f}/s  ({seconds:.2f} s)"


def redis_raw(stream: str, lines: list[bytes]) -> None:
    import redis

    client = redis.Redis.from_url(REDIS.url)
    client.delete(stream)
    started = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    for i, line in enumerate(lines, 1):
        pipe.xadd(stream, {"data": line})
        if i % 1000 == 0:
            pipe.execute()
    pipe.execute()
    print(f"redis  XADD, pipelined 1000        {rate(len(lines), time.perf_counter() - started)}")
    client.xgroup_create(stream, "raw", id="0")
    started, read = time.perf_counter(), 0
    while reply := client.xreadgroup("raw", "c", {stream: ">"}, count=2000):
        entries = reply[0][1]
        read += len(entries)
        client.xack(stream, "raw", *(e[0] for e in entries))
    print(f"redis  XREADGROUP 2000 + XACK      {rate(read, time.perf_counter() - started)}")
    client.close()


def rillet_run(
    pipeline: Path, params: dict[str, str], n: int, label: str, out: Path, *options: str
) -> float:
    """Run the pipeline as a whole process; print and return its events per second."""
    args = [a for k, v in params.items() for a in ("-p", f"{k}={v}")]
    command = [
        sys.executable,
        "-m",
        "rillet.dsl.entry",
        "run",
        "--quiet",
        "--fresh",
        "--state-dir",
        str(out / f".rillet-{pipeline.stem}"),
        str(pipeline),
        *args,
        *options,
    ]
    started = time.perf_counter()
    subprocess.run(command, cwd=HERE, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    print(f"{label:<34}{rate(n, elapsed)}")
    return n / elapsed


async def nats_all(subject: str, lines: list[bytes]) -> None:
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig

    stream = subject.replace(".", "_").upper()
    nc = await nats.connect(NATS.url)
    js = nc.jetstream()
    try:
        await js.add_stream(name=stream, subjects=[subject])
        started = time.perf_counter()
        for line in lines:
            await nc.publish(subject, line)
        await nc.flush()
        while (await js.stream_info(stream)).state.messages < len(lines):
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        print(f"nats   publish into a stream       {rate(len(lines), elapsed)}")

        await js.add_consumer(
            stream,
            ConsumerConfig(durable_name="fetch", max_ack_pending=-1, ack_policy=AckPolicy.EXPLICIT),
        )
        sub = await js.pull_subscribe_bind("fetch", stream=stream)
        started, read = time.perf_counter(), 0
        while read < len(lines):
            msgs = await sub.fetch(1000, timeout=5)
            read += len(msgs)
            for msg in msgs:
                await msg.ack()
        print(f"nats   nats-py fetch(1000) + ack   {rate(read, time.perf_counter() - started)}")

        context = SourceContext(
            name="bench",
            schema=None,
            clock=SystemClock(),
            base_dir=HERE,
            batch_size=1000,
            batch_timeout_s=0.2,
        )
        source = NatsSource(
            NatsSourceConfig(
                NATS.url,
                subject,
                stream=stream,
                durable="source",
                until_empty=True,
                max_ack_pending=-1,
            ),
            context,
        )
        await source.open()
        started, read = time.perf_counter(), 0
        while (batch := await source.read_batch()) is not None:
            read += len(batch.records)
            await source.commit(source.position())
        await source.aclose()
        print(f"nats   `nats` source pulls + ack   {rate(read, time.perf_counter() - started)}")
    finally:
        await js.delete_stream(stream)
        await nc.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--nats-events", type=int, default=100_000)
    args = parser.parse_args()
    ensure(REDIS)
    ensure(NATS)
    lines = events(max(args.events, args.nats_events))
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    stream = f"bench-{uuid.uuid4().hex[:8]}"
    n = args.events
    print(f"{n:,} events of ~{sum(map(len, lines[:1000])) // 1000} bytes")
    try:
        redis_raw(stream, lines[:n])
        params = {"url": REDIS.url, "stream": stream}
        one = rillet_run(
            HERE / "w1_redis.rill",
            {**params, "group": "w1"},
            n,
            "rillet W1 from the redis stream",
            out,
        )
        two = rillet_run(
            HERE / "w1_redis.rill",
            {**params, "group": "w1x2", "output": "out/w1_redis_x2.jsonl"},
            n,
            "  the same, --workers 2",
            out,
            "--workers",
            "2",
            "--broker",
            REDIS.url,
            "--group",
            f"bench-{stream}",
        )
        print(f"{'  scaling, 2 workers / 1':<34}{two / one:>12.2f}x")
        data = out / f"clicks-{n}.jsonl"
        data.write_bytes(b"\n".join(lines[:n]) + b"\n")
        rillet_run(
            HERE / "w1.rill",
            {"input": str(data), "output": str(out / "w1.jsonl")},
            n,
            "rillet W1 from a file",
            out,
        )
        data.unlink()
    finally:
        import redis

        redis.Redis.from_url(REDIS.url).delete(stream)
    print(f"{args.nats_events:,} events")
    asyncio.run(nats_all(f"bench.{uuid.uuid4().hex[:8]}", lines[: args.nats_events]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
