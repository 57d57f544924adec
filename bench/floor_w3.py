"""W3 by hand: per-user 30 s windows sliding every 10 s, 2 s lateness, one plain msgspec loop.

`python bench/floor_w3.py INPUT OUTPUT`. The rules of rillet's sliding windows: counts and sums
per 10 s pane and user, a window the merge of its three panes in pane order (so the float sums
add up in the same order), windows in end order once the horizon (max event time seen minus
2 s) reaches their end, users in the order first seen in the window.
"""

from __future__ import annotations

import sys

import msgspec

SIZE, EVERY, LATENESS = 30_000, 10_000, 2_000
PANE = EVERY  # the greatest common divisor of size and step
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


class Panes:
    """Open panes (start -> user -> [count, total, arrival no. of the user in the pane])."""

    def __init__(self, out) -> None:
        self.open: dict[int, dict[int, list]] = {}
        self.fired_until = -NEVER
        self.out = out
        self.buffer = bytearray()
        self.encode_into = msgspec.json.Encoder().encode_into

    def fire(self, until: int) -> int:
        """Emit the windows ending in (fired_until, until]; the next window end to wait for."""
        panes, fired_until = self.open, self.fired_until
        starts = {s for p in panes for s in range(p - p % EVERY, p - SIZE, -EVERY)}
        for start in sorted(starts):
            if fired_until < start + SIZE <= until:
                self.emit(start)
        self.fired_until = fired_until = max(fired_until, until)
        for p in [p for p in panes if p - p % EVERY + SIZE <= fired_until]:
            del panes[p]
        if len(self.buffer) > FLUSH_BYTES or until == NEVER:
            self.out.write(self.buffer)
            self.buffer.clear()
        return fired_until - fired_until % EVERY + EVERY  # window ends are multiples of EVERY

    def emit(self, start: int) -> None:
        merged: dict[int, list] = {}
        for p in range(start, start + SIZE, PANE):
            for user, (n, total, first) in self.open.get(p, {}).items():
                acc = merged.get(user)
                if acc is None:
                    merged[user] = [n, total, first]
                else:
                    acc[0] += n
                    acc[1] += total
                    if first < acc[2]:
                        acc[2] = first
        buffer, encode_into, end = self.buffer, self.encode_into, start + SIZE
        for user, (n, total, _) in sorted(merged.items(), key=lambda kv: kv[1][2]):
            encode_into(Row(start, end, user, n, total), buffer, -1)
            buffer.append(10)


def main(source: str, target: str) -> None:
    decode = msgspec.json.Decoder(Click).decode
    horizon, next_end, arrivals = -NEVER, -NEVER, 0
    with open(source, "rb") as f, open(target, "wb") as out:
        panes = Panes(out)
        open_panes = panes.open
        for line in f:
            c = decode(line)
            ts = c.ts
            if ts - LATENESS > horizon:
                horizon = ts - LATENESS
                if horizon >= next_end:
                    next_end = panes.fire(horizon)
            if ts - ts % EVERY + SIZE <= horizon:
                continue  # late: the last window holding it has closed
            start = ts - ts % PANE
            users = open_panes.get(start)
            if users is None:
                users = open_panes[start] = {}
            user = c.user
            if user in users:
                acc = users[user]
                acc[0] += 1
                acc[1] += c.latency_ms
            else:
                users[user] = [1, c.latency_ms, arrivals]
                arrivals += 1
        panes.fire(NEVER)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
