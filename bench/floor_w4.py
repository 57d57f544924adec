"""W4 by hand: per-user session windows (gap 5 s, 2 s lateness), one plain msgspec loop.

`python bench/floor_w4.py INPUT OUTPUT`. The rules of rillet's sessions: a click at `t` opens
`[t, t + 5 s)`, a user's overlapping sessions merge (their counts and sums added in start order,
then the click's, so the float sums match), a session is emitted once the horizon (max event time
seen minus 2 s) reaches its end, in order of end and then of its first click's arrival. Instead
of a heap pushed per click, the open sessions are swept once per gap of event time: a session
that ended meanwhile can no longer grow (no click is older than the horizon), so the output is
the same.
"""

from __future__ import annotations

import sys

import msgspec

GAP, LATENESS = 5_000, 2_000
NEVER = 2**63 - 1


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


def sweep(sessions: dict[int, list[list]], until: int) -> list[Row]:
    """Take the sessions ending at or before `until` out of `sessions`, as rows in output order."""
    fired = []
    for user in list(sessions):
        own = sessions[user]
        if any(s[1] <= until for s in own):
            fired += [(s, user) for s in own if s[1] <= until]
            own = [s for s in own if s[1] > until]
            if own:
                sessions[user] = own
            else:
                del sessions[user]
    fired.sort(key=lambda f: (f[0][1], f[0][4]))
    return [Row(s[0], s[1], user, s[2], s[3]) for s, user in fired]


def main(source: str, target: str) -> None:
    decode = msgspec.json.Decoder(Click).decode
    encode_lines = msgspec.json.Encoder().encode_lines
    sessions: dict[int, list[list]] = {}  # user -> [[start, end, count, total, first], ...]
    horizon, next_sweep, arrivals = -NEVER, -NEVER, 0
    with open(source, "rb") as f, open(target, "wb") as out:
        for line in f:
            c = decode(line)
            ts = c.ts
            if ts - LATENESS > horizon:
                horizon = ts - LATENESS
                if horizon >= next_sweep:
                    out.write(encode_lines(sweep(sessions, horizon)))
                    next_sweep = horizon + GAP
            start, end = ts, ts + GAP
            own = sessions.get(c.user)
            if own is None:
                if end > horizon:
                    sessions[c.user] = [[start, end, 1, c.latency_ms, arrivals]]
                    arrivals += 1
                continue
            overlapping = [s for s in own if s[0] < end and start < s[1]]
            for s in overlapping:
                start, end = min(start, s[0]), max(end, s[1])
            if end <= horizon:
                continue  # late
            if overlapping:
                merged = overlapping[0]
                for s in overlapping[1:]:
                    merged[2] += s[2]
                    merged[3] += s[3]
                    merged[4] = min(merged[4], s[4])
                    own.remove(s)
                merged[0], merged[1] = start, end
                merged[2] += 1
                merged[3] += c.latency_ms
            else:
                own.append([start, end, 1, c.latency_ms, arrivals])
                own.sort()
            arrivals += 1
        out.write(encode_lines(sweep(sessions, NEVER)))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
