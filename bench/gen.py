"""Write the benchmark's events as JSON lines: `python bench/gen.py N PATH [clicks|orders]`.

Clicks are the events of the `generate` source (seed 0), so every engine reads the same file.
Orders, for the interval join, come one per `ORDER_EVERY_MS` over the clicks' time span (N
clicks, N / 10 orders), users uniform over the clicks' users and, like the clicks, 10% of them
up to 2 s late: each order meets about one click of its user within 5 s.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import msgspec

from rillet.stdlib.generate import START_MS, USERS, click_events

CHUNK = 100_000
ORDER_EVERY_MS = 10


def order_events(rng: random.Random, first_index: int, n: int) -> list[dict]:
    events = []
    for i in range(first_index, first_index + n):
        ts = START_MS + i * ORDER_EVERY_MS
        if rng.random() < 0.1:
            ts -= rng.randrange(2000)
        user = rng.randrange(1, USERS + 1)
        events.append(
            {"ts": ts, "order_id": i, "user": user, "amount": rng.randrange(500, 50_000) / 100}
        )
    return events


def write_events(count: int, path: Path, kind: str = "clicks") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "orders":
        rng, count = random.Random(1), count // ORDER_EVERY_MS
    else:
        rng = random.Random(0)
    encoder = msgspec.json.Encoder()
    with open(path, "wb") as out:
        for first in range(0, count, CHUNK):
            n = min(CHUNK, count - first)
            if kind == "orders":
                events = order_events(rng, first, n)
            else:
                events = click_events(rng, first, n, START_MS, 1.0)
            out.write(encoder.encode_lines(events))


if __name__ == "__main__":
    write_events(int(sys.argv[1]), Path(sys.argv[2]), *sys.argv[3:4])
