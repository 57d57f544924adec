"""The workloads on bytewax (an optional peer): `python bench/peer_bytewax.py W1..W6 INPUT...
OUTPUT` (W5 reads clicks and orders).

Single worker, run in-process by `run_main`. Lines come from bytewax's `FileSource`; the sink
writes bytes without bytewax's per-batch fsync, as the other engines do. W2-W6 use one keyed
`stateful` step holding the floors' rules (`_window.py`, `_stateful.py`): bytewax's own
event-time windows and joins emit in key-partition order on a system-time watermark, which would
not give the same bytes as the other engines. W5 merges its two inputs into that step.
"""

from __future__ import annotations

import sys
from pathlib import Path

import bytewax.operators as op
import msgspec
from _stateful import RULES, Order
from _window import Windows
from bytewax.connectors.files import FileSource
from bytewax.dataflow import Dataflow
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.testing import run_main


class Click(msgspec.Struct):
    ts: int
    user: int
    page: str
    status: int
    latency_ms: float


class _Partition(StatelessSinkPartition):
    def __init__(self, path: str) -> None:
        self.file = open(path, "wb")  # noqa: SIM115 - closed by `close`
        self.encoder = msgspec.json.Encoder()

    def write_batch(self, items: list) -> None:
        self.file.write(self.encoder.encode_lines(items))

    def close(self) -> None:
        self.file.close()


class JsonLinesSink(DynamicSink):
    def __init__(self, path: str) -> None:
        self.path = path

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Partition:
        return _Partition(self.path)


class _RulesLogic(op.StatefulLogic):
    """Runs one of `_stateful.RULES` over every record."""

    def __init__(self, workload: str) -> None:
        self.rules = RULES[workload]()

    def on_item(self, value: object) -> tuple[list, bool]:
        return self.rules.add(value), False

    def on_eof(self) -> tuple[list, bool]:
        return self.rules.finish(), True

    def snapshot(self) -> None:
        return None


class _WindowLogic(op.StatefulLogic):
    def __init__(self) -> None:
        self.windows = Windows()

    def on_item(self, value: Click) -> tuple[list[dict], bool]:
        return self.windows.add(value.ts, value.user, value.latency_ms), False

    def on_eof(self) -> tuple[list[dict], bool]:
        return self.windows.finish(), True

    def snapshot(self) -> None:
        return None


def flow(workload: str, source: str, *more: str) -> Dataflow:
    *extra, target = more
    decoder = msgspec.json.Decoder(Click)
    f = Dataflow(f"rillet-bench-{workload}")
    clicks = op.map("decode", op.input("read", f, FileSource(Path(source))), decoder.decode)
    if workload in RULES:
        if extra:  # W5's orders
            order = msgspec.json.Decoder(Order).decode
            orders = op.map("decode_orders", op.input("orders", f, FileSource(Path(*extra))), order)
            clicks = op.merge("merge", clicks, orders)
        keyed = op.key_on("all", clicks, lambda _: "all")
        stateful = op.stateful("rules", keyed, lambda _: _RulesLogic(workload))
        rows = op.map("unkey", stateful, lambda kv: kv[1])
    elif workload == "W1":
        ok = op.filter("where", clicks, lambda c: c.status == 200)
        rows = op.map(
            "select",
            ok,
            lambda c: {
                "user": c.user,
                "page": c.page,
                "latency_ms": c.latency_ms,
                "slow": c.latency_ms > 250,
            },
        )
    else:
        keyed = op.key_on("all", clicks, lambda _: "all")
        windowed = op.stateful("window", keyed, lambda _: _WindowLogic())
        rows = op.map("unkey", windowed, lambda kv: kv[1])
    op.output("write", rows, JsonLinesSink(target))
    return f


if __name__ == "__main__":
    run_main(flow(*sys.argv[1:]))
