"""W2 by hand: per-user 10 s tumbling windows with a 2 s lateness, the fastest plain loop found.

`python bench/floor_w2.py INPUT OUTPUT`. Emits each window when the horizon (max event time seen
minus 2 s) passes its end, in end order, keys in first-seen order, as rillet does. One line at a
time into a Struct of the fields read; a dict of open windows and the next closing time, so the
per-record check is one comparison; rows encoded into one reused buffer. About 1.3-1.7x faster
than decoding 1 MiB arrays and sorting the open windows after each (the former floor).
"""

from __future__ import annotations

import sys

import msgspec

SIZE, LATENESS = 10_000, 2_000
NEVER = 2**63 - 1
FLUSH_BYTES = 1 << 16


class Click(msgspec.Struct, gc=False):
    ts: int
    user: int
    latency_ms: float


class Row(msgspec.Struct, gc=False):
    window_start: int
    window_end: int
    user: int
    n: int
    total: float


class Windows:
    """The open windows (start -> user -> [count, total]) and the rows of those that closed."""

    def __init__(self, out) -> None:
        self.open: dict[int, dict[int, list]] = {}
        self.out = out
        self.buffer = bytearray()
        self.encode_into = msgspec.json.Encoder().encode_into

    def fire(self, until: int) -> int:
        """Emit the windows ending at or before `until`; the next closing time."""
        buffer, encode_into, windows = self.buffer, self.encode_into, self.open
        for start in sorted(s for s in windows if s + SIZE <= until):
            end = start + SIZE
            for user, (n, total) in windows.pop(start).items():
                encode_into(Row(start, end, user, n, total), buffer, -1)
                buffer.append(10)
        if len(buffer) > FLUSH_BYTES or until == NEVER:
            self.out.write(buffer)
            buffer.clear()
        return min(windows, default=NEVER - SIZE) + SIZE


def main(source: str, target: str) -> None:
    decode = msgspec.json.Decoder(Click).decode
    horizon, next_close = -NEVER, NEVER
    with open(source, "rb") as f, open(target, "wb") as out:
        windows = Windows(out)
        open_windows = windows.open
        for line in f:
            c = decode(line)
            ts = c.ts
            if ts - LATENESS > horizon:
                horizon = ts - LATENESS
                if horizon >= next_close:
                    next_close = windows.fire(horizon)
            start = ts - ts % SIZE
            if start + SIZE <= horizon:
                continue  # late
            group = open_windows.get(start)
            if group is None:
                group = open_windows[start] = {}
                next_close = min(next_close, start + SIZE)
            user = c.user
            if user in group:
                acc = group[user]
                acc[0] += 1
                acc[1] += c.latency_ms
            else:
                group[user] = [1, c.latency_ms]
        windows.fire(NEVER)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
