"""W1 on bytewax, reading a followed file or a Redis stream:
`python bench/latency_bytewax.py INPUT OUTPUT` or `... --redis URL STREAM OUTPUT`.

The peer of `w1_latency.rill` and `w1_latency_redis.rill` for `latency.py`: a source partition
that returns the lines appended since its last call (bytewax calls it again at once after a
batch, 1 ms later after an empty one), or the stream's entries added since (`XREAD` from the
last id read, without blocking: bytewax's own polling paces it), the same filter and
projection keeping `ts`, and a sink that flushes each batch so a reader sees it as soon as
bytewax wrote it. Bytewax has no Redis connector: this partition is the simplest reading, with
no consumer group and no acknowledgement. Runs until stopped.
"""

from __future__ import annotations

import sys
from pathlib import Path

import bytewax.operators as op
import msgspec
from bytewax.dataflow import Dataflow
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.testing import run_main
from peer_bytewax import Click, JsonLinesSink, _Partition

CHUNK_BYTES = 1 << 20
BATCH_ENTRIES = 1000  # rillet's default batch_size


class _Tail(StatefulSourcePartition[bytes, None]):
    def __init__(self, path: str) -> None:
        self.file = open(path, "rb")  # noqa: SIM115 - closed by `close`
        self.rest = b""

    def next_batch(self) -> list[bytes]:
        data = self.file.read(CHUNK_BYTES)
        if not data:
            return []
        lines = (self.rest + data).split(b"\n")
        self.rest = lines.pop()
        return lines

    def snapshot(self) -> None:
        return None

    def close(self) -> None:
        self.file.close()


class FollowedFile(FixedPartitionedSource[bytes, None]):
    def __init__(self, path: str) -> None:
        self.path = path

    def list_parts(self) -> list[str]:
        return ["tail"]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _Tail:
        return _Tail(self.path)


class _StreamTail(StatefulSourcePartition[bytes, None]):
    def __init__(self, url: str, stream: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.stream, self.last = stream, "0-0"

    def next_batch(self) -> list[bytes]:
        read = self.client.xread({self.stream: self.last}, count=BATCH_ENTRIES)
        if not read:
            return []
        entries = read[0][1]
        self.last = entries[-1][0]
        return [fields[b"data"] for _, fields in entries]

    def snapshot(self) -> None:
        return None

    def close(self) -> None:
        self.client.close()


class RedisStream(FixedPartitionedSource[bytes, None]):
    def __init__(self, url: str, stream: str) -> None:
        self.url, self.stream = url, stream

    def list_parts(self) -> list[str]:
        return ["stream"]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _StreamTail:
        return _StreamTail(self.url, self.stream)


class _FlushingPartition(_Partition):
    def write_batch(self, items: list) -> None:
        super().write_batch(items)
        self.file.flush()


class FlushingSink(JsonLinesSink):
    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Partition:
        return _FlushingPartition(self.path)


def flow(source: FixedPartitionedSource, target: str) -> Dataflow:
    decoder = msgspec.json.Decoder(Click)
    f = Dataflow("rillet-bench-latency")
    clicks = op.map("decode", op.input("read", f, source), decoder.decode)
    ok = op.filter("where", clicks, lambda c: c.status == 200)
    rows = op.map(
        "select",
        ok,
        lambda c: {
            "ts": c.ts,
            "user": c.user,
            "page": c.page,
            "latency_ms": c.latency_ms,
            "slow": c.latency_ms > 250,
        },
    )
    op.output("write", rows, FlushingSink(target))
    return f


if __name__ == "__main__":
    if sys.argv[1] == "--redis":
        source: FixedPartitionedSource = RedisStream(sys.argv[2], sys.argv[3])
    else:
        source = FollowedFile(sys.argv[1])
    Path(sys.argv[-1]).parent.mkdir(parents=True, exist_ok=True)
    run_main(flow(source, sys.argv[-1]))
