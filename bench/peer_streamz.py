"""W1 and W2 on streamz (an optional peer): `python bench/peer_streamz.py W1|W2 INPUT OUTPUT`.

Synchronous streamz: each line is `emit`ted through `map`, `filter` and `sink` nodes one record
at a time. W2 keeps the floor's window rules (`_window.py`) in one node and flattens the rows
each record closes.
"""

from __future__ import annotations

import sys

import msgspec
from _window import Windows
from streamz import Stream


class Click(msgspec.Struct):
    ts: int
    user: int
    page: str
    status: int
    latency_ms: float


def main(workload: str, source: str, target: str) -> None:
    decoder = msgspec.json.Decoder(Click)
    encoder = msgspec.json.Encoder()
    windows = Windows()
    with open(source, "rb") as f, open(target, "wb") as out:
        head = Stream()
        clicks = head.map(decoder.decode)
        if workload == "W1":
            rows = clicks.filter(lambda c: c.status == 200).map(
                lambda c: {
                    "user": c.user,
                    "page": c.page,
                    "latency_ms": c.latency_ms,
                    "slow": c.latency_ms > 250,
                }
            )
        else:
            rows = clicks.map(lambda c: windows.add(c.ts, c.user, c.latency_ms)).flatten()
        rows.sink(lambda row: out.write(encoder.encode(row) + b"\n"))
        for line in f:
            head.emit(line)
        if workload == "W2":
            out.write(encoder.encode_lines(windows.finish()))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
