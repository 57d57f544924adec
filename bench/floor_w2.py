"""W2 by hand: per-user 10 s tumbling windows with a 2 s lateness, one plain loop with msgspec.

`python bench/floor_w2.py INPUT OUTPUT`. Emits each window when the watermark (max event time
seen minus 2 s) passes its end, in end order, keys in first-seen order, as rillet does.
"""

from __future__ import annotations

import sys

import msgspec

SIZE, LATENESS = 10_000, 2_000


class Click(msgspec.Struct):
    ts: int
    user: int
    page: str
    status: int
    latency_ms: float


def main(source: str, target: str) -> None:
    decoder = msgspec.json.Decoder(list[Click])
    encoder = msgspec.json.Encoder()
    windows: dict[int, dict[int, list]] = {}
    highest = -(2**63)
    fired_until = -(2**63)
    with open(source, "rb") as f, open(target, "wb") as out:

        def fire(until: int) -> None:
            rows = []
            for start in sorted(s for s in windows if s + SIZE <= until):
                for user, (n, total) in windows.pop(start).items():
                    rows.append(
                        {
                            "window_start": start,
                            "window_end": start + SIZE,
                            "user": user,
                            "n": n,
                            "total": total,
                        }
                    )
            out.write(encoder.encode_lines(rows))

        while lines := f.readlines(1 << 20):
            for c in decoder.decode(b"[" + b",".join(lines) + b"]"):
                ts = c.ts
                if ts > highest:
                    highest = ts
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
            watermark = highest - LATENESS
            if watermark > fired_until:
                fire(watermark)
                fired_until = watermark
        fire(2**63 - 1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
