"""The naive asyncio baseline: one task per stage, one record per `asyncio.Queue` hop.

`python bench/naive.py W1|W2 INPUT OUTPUT`. What a streaming engine written the obvious way
costs: the same work as the floors (msgspec decoding and encoding, the same window rules), but
every record travels alone through bounded queues between tasks. Its output equals the floor's
byte for byte; `bench/run.py` checks that.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

import msgspec

SIZE, LATENESS = 10_000, 2_000
QUEUE_RECORDS = 1_000  # bound of every queue between two tasks
END = object()  # end of input, sent down every queue after the last record


class Click(msgspec.Struct):
    ts: int
    user: int
    page: str
    status: int
    latency_ms: float


Queue = asyncio.Queue


async def read(path: str, out: Queue) -> None:
    decoder = msgspec.json.Decoder(Click)
    with open(path, "rb") as f:
        for line in f:
            await out.put(decoder.decode(line))
    await out.put(END)


async def where(inp: Queue, out: Queue) -> None:
    while (c := await inp.get()) is not END:
        if c.status == 200:
            await out.put(c)
    await out.put(END)


async def select(inp: Queue, out: Queue) -> None:
    while (c := await inp.get()) is not END:
        await out.put(
            {"user": c.user, "page": c.page, "latency_ms": c.latency_ms, "slow": c.latency_ms > 250}
        )
    await out.put(END)


async def window(inp: Queue, out: Queue) -> None:
    """Per-user 10 s tumbling windows with a 2 s lateness, fired as the watermark passes."""
    windows: dict[int, dict[int, list]] = {}
    highest = fired_until = -(2**63)

    async def fire(until: int) -> None:
        for start in sorted(s for s in windows if s + SIZE <= until):
            for user, (n, total) in windows.pop(start).items():
                await out.put(
                    {
                        "window_start": start,
                        "window_end": start + SIZE,
                        "user": user,
                        "n": n,
                        "total": total,
                    }
                )

    while (c := await inp.get()) is not END:
        ts = c.ts
        highest = max(highest, ts)
        start = ts - ts % SIZE
        if start + SIZE <= max(highest - LATENESS, fired_until):
            continue  # late
        group = windows.setdefault(start, {})
        acc = group.get(c.user)
        if acc is None:
            group[c.user] = [1, c.latency_ms]
        else:
            acc[0] += 1
            acc[1] += c.latency_ms
        if highest - LATENESS > fired_until:
            fired_until = highest - LATENESS
            await fire(fired_until)
    await fire(2**63 - 1)
    await out.put(END)


async def write(path: str, inp: Queue) -> None:
    encoder = msgspec.json.Encoder()
    with open(path, "wb") as f:
        while (record := await inp.get()) is not END:
            f.write(encoder.encode(record) + b"\n")


Stage = Callable[[Queue, Queue], Awaitable[None]]
WORKLOADS: dict[str, list[Stage]] = {"W1": [where, select], "W2": [window]}


async def main(workload: str, source: str, target: str) -> None:
    stages = WORKLOADS[workload]
    queues: list[Queue] = [asyncio.Queue(QUEUE_RECORDS) for _ in range(len(stages) + 1)]
    async with asyncio.TaskGroup() as tg:
        tg.create_task(read(source, queues[0]))
        for stage, inp, out in zip(stages, queues, queues[1:]):
            tg.create_task(stage(inp, out))
        tg.create_task(write(target, queues[-1]))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
