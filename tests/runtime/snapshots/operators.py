"""The stateful operators whose snapshots the fixtures hold, built by the real compiler from
pipeline text, and the input that gives each one state worth saving: open windows with values
(one key a tuple, as `by k, c` makes it), rolling records released and waiting, kept dedupe
times, join buffers on both sides, an event time's largest time, and one per part of a source
with parts (`parts`). `make_fixtures.py` saves their snapshots; `test_snapshots.py` restores them
and goes on with `AFTER`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from rillet.runtime import ManualClock
from rillet.runtime.compile import compile_plan
from rillet.runtime.item import Batch, Origin
from rillet.runtime.operator import Output
from tests.runtime._streams import compiled_plan

AGGREGATES = (
    "{ n = count(), total = sum(v), mean = avg(v), hi = max(v), values = collect(v), "
    "kinds = count_distinct(c) }"
)
TIMED = "s | event_time ts lateness 5ms"
FLOWS = {
    "event_time": f"{TIMED} | into out",
    "parts": f"{TIMED} | into out",
    "tumbling": f"{TIMED} | window tumbling 100ms | aggregate by k {AGGREGATES} | into out",
    "sliding": f"{TIMED} | window sliding 100ms every 50ms | aggregate by k, c {AGGREGATES} "
    "| into out",
    "session": f"{TIMED} | window session gap 30ms | aggregate by k {AGGREGATES} | into out",
    "global": f"s | aggregate by k, c {AGGREGATES} | into out",
    "early": f"{TIMED} | window tumbling 100ms emit every 10s | aggregate by k {AGGREGATES} "
    "| into out",
    "top": f"{TIMED} | window tumbling 100ms | top 2 by v desc per k | into out",
    "top_sliding": f"{TIMED} | window sliding 100ms every 50ms | top 2 by v desc, c asc per k "
    "| into out",
    "top_session": f"{TIMED} | window session gap 30ms | top 1 by v asc | into out",
    "top_global": "s | top 2 by v desc per k | into out",
    "rolling": f"{TIMED} | rolling 50ms by k {AGGREGATES} | into out",
    "rolling_last": f"{TIMED} | rolling last 2 by k, c {AGGREGATES} | into out",
    "dedupe": f"{TIMED} | dedupe by k, c within 50ms | into out",
    "join": f"stream rs = r | event_time ts lateness 5ms\n{TIMED} | join rs on k within 50ms "
    "| into out",
    "left_join": f"stream rs = r | event_time ts lateness 5ms\n{TIMED} "
    "| left join rs on k = k, c = kind within 50ms | into out",
    "regular_left_join": "s | left join r on k | into out",
}

Step = tuple[str, Any, Any]
"""("batch", port, records), ("watermark", 0, ts), ("part", p, records), ("tick", 0, clock ms)"""
PARTS = ("0", "1")
"""The parts of the source of `part` steps (a topic's partitions)."""


def _r(ts: int, k: str, c: str, v: int) -> dict:
    return {"ts": ts, "k": k, "c": c, "v": v}


FILL: dict[str, list[Step]] = {
    "event_time": [("batch", 0, [_r(100, "a", "x", 1), _r(130, "b", "y", 2)])],
    "parts": [("part", "0", [_r(100, "a", "x", 1)]), ("part", "1", [_r(50, "b", "y", 2)])],
    "tumbling": [
        ("batch", 0, [_r(10, "a", "x", 1), _r(20, "b", "y", 2)]),
        ("watermark", 0, 15),
        ("batch", 0, [_r(120, "a", "x", 3), _r(130, "a", "z", 4), _r(140, "b", "y", 5)]),
        ("watermark", 0, 135),
    ],
    "sliding": [
        ("batch", 0, [_r(10, "a", "x", 1), _r(60, "b", "y", 2), _r(70, "a", "x", 3)]),
        ("watermark", 0, 65),
        ("batch", 0, [_r(120, "a", "x", 4)]),
        ("watermark", 0, 115),
    ],
    "session": [
        ("batch", 0, [_r(10, "a", "x", 1), _r(20, "b", "y", 2), _r(30, "a", "z", 3)]),
        ("watermark", 0, 25),
        ("batch", 0, [_r(100, "b", "y", 4)]),
        ("watermark", 0, 95),
    ],
    "global": [("batch", 0, [_r(10, "a", "x", 1), _r(20, "b", "y", 2), _r(30, "a", "x", 3)])],
    "early": [  # early rows for a and b at 10 s; a has changed since
        ("batch", 0, [_r(10, "a", "x", 1), _r(20, "b", "y", 2)]),
        ("tick", 0, 10_000),
        ("batch", 0, [_r(30, "a", "z", 3)]),
        ("watermark", 0, 25),
    ],
    "top": [  # ties to come must rank after the kept records they tie
        ("batch", 0, [_r(10, "a", "x", 1), _r(20, "a", "y", 5), _r(30, "b", "y", 2)]),
        ("batch", 0, [_r(40, "a", "z", 3)]),
        ("watermark", 0, 35),
    ],
    "top_sliding": [  # [-50, 50) fires; pane 50 keeps (a, x) at 70 before (a, y) at 60
        ("batch", 0, [_r(10, "a", "x", 1), _r(60, "a", "y", 4), _r(70, "a", "x", 4)]),
        ("watermark", 0, 65),
    ],
    "top_session": [  # one group: sessions [10, 50) and [100, 130)
        ("batch", 0, [_r(10, "a", "x", 5), _r(20, "b", "y", 2), _r(100, "a", "z", 3)]),
        ("watermark", 0, 25),
    ],
    "top_global": [("batch", 0, [_r(10, "a", "x", 1), _r(20, "b", "y", 2), _r(30, "a", "x", 3)])],
    "rolling": [
        ("batch", 0, [_r(10, "a", "x", 1), _r(20, "b", "y", 2), _r(30, "a", "z", 3)]),
        ("watermark", 0, 25),
        ("batch", 0, [_r(60, "a", "x", 4)]),
        ("watermark", 0, 55),
    ],
    "rolling_last": [
        ("batch", 0, [_r(10, "a", "x", 1), _r(20, "b", "y", 2), _r(30, "a", "x", 3)]),
        ("watermark", 0, 25),
        ("batch", 0, [_r(60, "a", "x", 4)]),
        ("watermark", 0, 55),
    ],
    "dedupe": [
        ("batch", 0, [_r(10, "a", "x", 1), _r(20, "a", "x", 2), _r(30, "b", "y", 3)]),
        ("batch", 0, [_r(70, "a", "x", 4)]),
        ("watermark", 0, 65),
    ],
    "join": [
        ("batch", 0, [_r(10, "a", "x", 1), _r(20, "b", "y", 2)]),
        ("batch", 1, [{"ts": 15, "k": "a", "w": "left-a"}, {"ts": 90, "k": "c", "w": "c"}]),
        ("watermark", 0, 15),
    ],
    "left_join": [  # (a, x) is matched, (b, y) waits, (a, z) has waited long enough
        ("batch", 0, [_r(10, "a", "x", 1), _r(20, "b", "y", 2), _r(12, "a", "z", 0)]),
        ("batch", 1, [{"ts": 15, "k": "a", "kind": "x", "w": "a"}]),
        ("watermark", 0, 63),
    ],
    "regular_left_join": [
        ("batch", 0, [_r(10, "a", "x", 1), _r(20, "b", "y", 2)]),
        ("batch", 1, [{"ts": 500, "k": "a", "w": "a"}]),
    ],
}
"""Applied to a fresh operator before its snapshot is taken."""

AFTER: dict[str, list[Step]] = {
    "event_time": [("batch", 0, [_r(120, "a", "x", 3)]), ("batch", 0, [_r(140, "a", "x", 4)])],
    "parts": [("part", "1", [_r(150, "b", "y", 3)]), ("part", "0", [_r(120, "a", "x", 4)])],
    "tumbling": [("batch", 0, [_r(150, "a", "x", 6), _r(90, "b", "y", 7)])],
    "sliding": [("batch", 0, [_r(130, "b", "y", 5), _r(40, "a", "x", 6)])],
    "session": [("batch", 0, [_r(110, "b", "y", 5), _r(120, "c", "x", 6)])],
    "global": [("batch", 0, [_r(40, "b", "y", 4)])],
    "early": [("tick", 0, 20_000), ("batch", 0, [_r(150, "b", "y", 4)])],
    "top": [
        ("batch", 0, [_r(50, "a", "x", 3), _r(60, "b", "x", 2), _r(150, "a", "x", 7)]),
        ("batch", 0, [_r(90, "b", "y", 7)]),
    ],
    "top_sliding": [("batch", 0, [_r(80, "a", "w", 4), _r(130, "b", "y", 5)])],
    "top_session": [("batch", 0, [_r(110, "c", "x", 3)])],
    "top_global": [("batch", 0, [_r(40, "a", "z", 3), {**_r(50, "b", "y", 0), "v": None}])],
    "rolling": [("batch", 0, [_r(70, "b", "y", 5), _r(40, "a", "x", 6)])],
    "rolling_last": [("batch", 0, [_r(70, "b", "y", 5), _r(40, "a", "x", 6)])],
    "dedupe": [("batch", 0, [_r(75, "a", "x", 5), _r(80, "b", "y", 6), _r(121, "a", "x", 7)])],
    "join": [
        ("batch", 0, [_r(50, "a", "x", 3), _r(95, "c", "z", 4)]),
        ("batch", 1, [{"ts": 30, "k": "b", "w": "right-b"}]),
    ],
    "left_join": [
        ("batch", 0, [_r(50, "a", "x", 3), _r(95, "c", "z", 4)]),
        ("batch", 1, [{"ts": 55, "k": "a", "kind": "x", "w": "a2"}]),
    ],
    "regular_left_join": [
        ("batch", 0, [_r(30, "c", "z", 3)]),
        ("batch", 1, [{"ts": 900, "k": "a", "w": "a2"}]),
    ],
}
"""Applied to the restored operator, before the end of its input."""


def build(kind: str) -> Any:
    """A fresh operator of `kind` as the compiler makes it (the one after `event_time`, but for
    the `event_time` kind itself)."""
    text = (
        'source s = file("unused-s.jsonl")\nsource r = file("unused-r.jsonl")\n'
        f'sink out = file("out.jsonl")\n{FLOWS[kind]}\n'
    )
    with tempfile.TemporaryDirectory() as base_dir:
        plan, registry = compiled_plan(text, Path(base_dir))
    # the sink as a given one: its records are read here as dicts, not encoded
    physical = compile_plan(plan, registry, ManualClock(), given_sinks=frozenset({"out"}))
    operators = [n.operator for n in physical.nodes.values() if n.kind == "operator"]
    return operators[0] if kind in ("event_time", "parts") else operators[-1]


def batch(what: str, port: Any, records: list[dict]) -> Batch:
    """A batch of a `batch` step (from source `port`) or of a `part` step (from part `port`)."""
    offsets = list(range(len(records)))
    if what == "part":
        return Batch(records, offsets, Origin("topic", part=port, parts=PARTS))
    return Batch(records, offsets, Origin(f"source{port}"))


def apply(op: Any, steps: list[Step], out: Output) -> None:
    for what, port, value in steps:
        if what == "watermark":
            op.on_watermark(value, out)
        elif what == "tick":
            op.on_tick(value, out)
        else:
            op.process(batch(what, port, value), 0 if what == "part" else port, out)


def filled(kind: str) -> Any:
    """An operator of `kind` holding the state `FILL` gives it."""
    op = build(kind)
    apply(op, FILL[kind], Output())
    return op
