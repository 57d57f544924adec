"""Write the benchmark's click events as JSON lines: `python bench/gen.py N PATH`.

The same events as the `generate` source (seed 0), so every engine reads the same file.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import msgspec

from rillet.stdlib.generate import START_MS, click_events

CHUNK = 100_000


def write_events(count: int, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    encoder = msgspec.json.Encoder()
    with open(path, "wb") as out:
        for first in range(0, count, CHUNK):
            n = min(CHUNK, count - first)
            out.write(encoder.encode_lines(click_events(rng, first, n, START_MS, 1.0)))


if __name__ == "__main__":
    write_events(int(sys.argv[1]), Path(sys.argv[2]))
