"""W1 by hand: one plain loop with msgspec, the floor rillet is measured against.

`python bench/floor_w1.py INPUT OUTPUT`
"""

from __future__ import annotations

import sys

import msgspec


class Click(msgspec.Struct):
    ts: int
    user: int
    page: str
    status: int
    latency_ms: float


def main(source: str, target: str) -> None:
    decoder = msgspec.json.Decoder(list[Click])
    encoder = msgspec.json.Encoder()
    with open(source, "rb") as f, open(target, "wb") as out:
        while lines := f.readlines(1 << 20):
            clicks = decoder.decode(b"[" + b",".join(lines) + b"]")
            out.write(
                encoder.encode_lines(
                    [
                        {
                            "user": c.user,
                            "page": c.page,
                            "latency_ms": c.latency_ms,
                            "slow": c.latency_ms > 250,
                        }
                        for c in clicks
                        if c.status == 200
                    ]
                )
            )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
