"""W6 by hand: dedupe by user and page within 10 s (2 s lateness), one plain msgspec loop.

`python bench/floor_w6.py INPUT OUTPUT`. rillet's rule: a click is dropped when one of the same
user and page was kept at most 10 s before it (at or before its own time). A kept click is written
as the very line read (rillet re-encodes the same fields in the same order, to the same bytes).
Kept times older than the horizon minus 10 s can match no later click (none is older than the
horizon, max event time seen minus 2 s); they are swept once per 10 s of event time.
"""

from __future__ import annotations

import sys
from bisect import bisect_right

import msgspec

WITHIN, LATENESS = 10_000, 2_000
NEVER = 2**63 - 1
FLUSH_BYTES = 1 << 16


class Click(msgspec.Struct, gc=False):
    ts: int
    user: int
    page: str


def forget(kept: dict[tuple, list[int]], before: int) -> dict[tuple, list[int]]:
    """The kept times at or after `before`, keys without any left out."""
    fresh = {}
    for key, times in kept.items():
        if times[-1] >= before:
            fresh[key] = times if times[0] >= before else [t for t in times if t >= before]
    return fresh


def main(source: str, target: str) -> None:
    decode = msgspec.json.Decoder(Click).decode
    kept: dict[tuple, list[int]] = {}  # (user, page) -> sorted times of the clicks kept
    horizon, next_sweep = -NEVER, -NEVER
    buffer = bytearray()
    with open(source, "rb") as f, open(target, "wb") as out:
        for line in f:
            c = decode(line)
            ts = c.ts
            if ts - LATENESS > horizon:
                horizon = ts - LATENESS
                if horizon >= next_sweep:
                    kept = forget(kept, horizon - WITHIN)
                    next_sweep = horizon + WITHIN
            key = (c.user, c.page)
            times = kept.get(key)
            if times is None:
                kept[key] = [ts]
            else:
                at = bisect_right(times, ts)
                if at and ts - times[at - 1] <= WITHIN:
                    continue
                times.insert(at, ts)
            buffer += line
            if len(buffer) > FLUSH_BYTES:
                out.write(buffer)
                buffer.clear()
        out.write(buffer)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
