"""Operator state (runtime/window.py, runtime/keyed.py, runtime/join.py): a `snapshot()` taken
mid-stream, encoded and decoded with msgpack as a checkpoint stores it, and `restore()`d into a
fresh operator continues to the same output (records, late records, errors) as the uninterrupted
operator; and state is freed once the watermark has passed what it was kept for, so memory
follows the open windows and the `within` span, not the input.

Operators are built by the real compiler from pipeline text and driven directly: batches, then
the watermarks a run would send (per input `max seen − lateness`, merged by `Inputs`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rillet.runtime import ManualClock
from rillet.runtime.compile import compile_plan
from rillet.runtime.eventtime import EventTimeOperator
from rillet.runtime.inputs import Inputs
from rillet.runtime.item import END_OF_TIME, Batch, Origin, Watermark
from rillet.runtime.join import JoinOperator
from rillet.runtime.keyed import DedupeOperator
from rillet.runtime.operator import Output
from rillet.runtime.session import SessionWindow
from rillet.runtime.window import GlobalAggregate, PaneWindow
from tests.runtime._streams import AGGREGATES, batch_sizes, compiled_plan, disordered

LATENESS = 8
WITHIN = 6

FLOWS = {
    "tumbling": f"s | event_time ts lateness {LATENESS}ms | window tumbling 10ms "
    f"| aggregate by k {AGGREGATES} | into out",
    "sliding": f"s | event_time ts lateness {LATENESS}ms | window sliding 15ms every 5ms "
    f"| aggregate by k {AGGREGATES} | into out",
    "session": f"s | event_time ts lateness {LATENESS}ms | window session gap 6ms "
    f"| aggregate by k {AGGREGATES} | into out",
    "global": f"s | aggregate by k {AGGREGATES} | into out",
    "dedupe": f"s | event_time ts lateness {LATENESS}ms | dedupe by k, c within {WITHIN}ms "
    "| into out",
    "join": f"stream rs = r | event_time ts lateness {LATENESS}ms\n"
    f"s | event_time ts lateness {LATENESS}ms | join rs on k within {WITHIN}ms "
    "| into out",
    "left_join": f"stream rs = r | event_time ts lateness {LATENESS}ms\n"
    f"s | event_time ts lateness {LATENESS}ms | left join rs on k within {WITHIN}ms "
    "| into out",
    "regular_left_join": "s | left join r on k | into out",
}
KINDS = {
    "tumbling": PaneWindow,
    "sliding": PaneWindow,
    "session": SessionWindow,
    "global": GlobalAggregate,
    "dedupe": DedupeOperator,
    "join": JoinOperator,
    "left_join": JoinOperator,
    "regular_left_join": JoinOperator,
}
FREED = [kind for kind in FLOWS if kind != "regular_left_join"]
"""What frees state as the watermark passes (a join without `within` keeps all to the end)."""


@functools.cache
def factory(kind: str, base_dir: Path) -> Callable[[], Any]:
    """Builds fresh operators of `kind` as the compiler makes them."""
    text = (
        'source s = file("unused-s.jsonl")\nsource r = file("unused-r.jsonl")\n'
        f'sink out = file("out.jsonl")\n{FLOWS[kind]}\n'
    )
    plan, registry = compiled_plan(text, base_dir)

    def build() -> Any:
        physical = compile_plan(plan, registry, ManualClock())
        (op,) = [
            n.operator
            for n in physical.nodes.values()
            if n.kind == "operator" and not isinstance(n.operator, EventTimeOperator)
        ]
        assert isinstance(op, KINDS[kind])
        return op

    return build


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


Step = tuple[str, int, Any]  # ("batch", port, records) or ("watermark", 0, ts)


def steps_for(
    inputs: list[tuple[int, list[dict]]], ports: int, lateness: int = LATENESS
) -> list[Step]:
    """Each batch, then the merged watermark if the batch moved it."""
    merge = Inputs(ports)
    highest: dict[int, int] = {}
    steps: list[Step] = []
    for port, records in inputs:
        steps.append(("batch", port, records))
        if records:
            top = max(r["ts"] for r in records)
            if top > highest.get(port, -(2**63)):
                highest[port] = top
                merged = merge.watermark(port, Watermark(top - lateness))
                if merged is not None:
                    steps.append(("watermark", 0, merged.ts_ms))
    return steps


def apply(
    op: Any, steps: list[Step], out: Output, check: Callable[[Any, int], None] | None = None
) -> None:
    for what, port, value in steps:
        if what == "batch":
            op.process(Batch(value, list(range(len(value))), Origin(f"source{port}")), port, out)
        else:
            op.on_watermark(value, out)
            if check is not None:
                check(op, value)


def outputs(out: Output) -> tuple[list, list, list]:
    return out.records, out.late, out.errors


def roundtrip(state: Any) -> Any:
    return msgspec.msgpack.decode(msgspec.msgpack.encode(state))


def state_is_within_watermark(op: Any, watermark: int) -> None:
    """What an operator still holds after `watermark`: only what a later on-time record can
    still reach."""
    if isinstance(op, PaneWindow):
        assert all(p - p % op.every + op.size > watermark for p in op.panes)
        assert set(op.first_seen) <= set(op.panes)
    elif isinstance(op, SessionWindow):
        assert all(s[1] > watermark for sessions in op.sessions.values() for s in sessions)
        assert all(op.sessions.values())
    elif isinstance(op, DedupeOperator):
        assert all(t >= watermark - op.within for times in op.kept.values() for t in times)
    elif isinstance(op, JoinOperator) and op.within is not None:
        assert all(
            ts >= watermark - op.within
            for side in op.sides
            for entries in side.by_key.values()
            for ts, *_ in entries
        )


def cut(records: list[dict], sizes: list[int]) -> list[list[dict]]:
    batches, at = [], 0
    for size in sizes:
        if at >= len(records):
            break
        batches.append(records[at : at + size])
        at += size
    if at < len(records):
        batches.append(records[at:])
    return batches


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(), disorder=st.integers(0, 2 * LATENESS), sizes=batch_sizes(6), at=st.floats(0, 1)
)
@pytest.mark.parametrize("kind", list(FLOWS))
def test_restored_operator_continues_to_same_result(
    workdir: Path, kind: str, data: st.DataObject, disorder: int, sizes: list[int], at: float
) -> None:
    build = factory(kind, workdir)
    records = data.draw(disordered(disorder, max_size=60, max_step=5, min_ts=0))
    if kind.endswith("join"):
        right = data.draw(disordered(disorder, max_size=40, max_step=5, min_ts=0))
        right = [{**r, "side": "r"} for r in right]
        order = data.draw(
            st.lists(
                st.booleans(),
                min_size=len(records) + len(right),
                max_size=len(records) + len(right),
            )
        )
        left_batches, right_batches = cut(records, sizes), cut(right, sizes[::-1])
        inputs = []
        for take_left in order:  # an interleaving of both sides' batches
            side = (
                left_batches if take_left and left_batches or not right_batches else right_batches
            )
            if side:
                inputs.append((0 if side is left_batches else 1, side.pop(0)))
        steps = steps_for(inputs, 2)
    else:
        steps = steps_for([(0, b) for b in cut(records, sizes)], 1)

    whole = build()
    whole_out = Output()
    apply(whole, steps, whole_out, check=state_is_within_watermark)
    whole.on_end(whole_out)

    split = round(at * len(steps))
    first = build()
    first_out = Output()
    apply(first, steps[:split], first_out)
    saved = msgspec.msgpack.encode(first.snapshot())
    second = build()
    second.restore(msgspec.msgpack.decode(saved))
    assert msgspec.msgpack.encode(second.snapshot()) == saved
    second_out = Output()
    apply(second, steps[split:], second_out)
    second.on_end(second_out)

    assert outputs(whole_out) == tuple(
        a + b for a, b in zip(outputs(first_out), outputs(second_out))
    )


@pytest.mark.parametrize("kind", FREED)
def test_state_is_freed_once_watermark_passes(workdir: Path, kind: str) -> None:
    op = factory(kind, workdir)()
    records = [{"ts": t, "k": f"key{t % 7}", "c": "x", "v": t} for t in range(0, 20_000, 2)]
    sizes: list[int] = []
    held: list[int] = []

    def size_of(op: Any) -> int:
        if isinstance(op, PaneWindow):
            return len(op.panes)
        if isinstance(op, SessionWindow):
            return sum(map(len, op.sessions.values()))
        if isinstance(op, DedupeOperator):
            return sum(map(len, op.kept.values()))
        if isinstance(op, JoinOperator):
            return sum(len(e) for side in op.sides for e in side.by_key.values())
        return len(op.groups)

    inputs = [
        (port, records[i : i + 50])
        for i in range(0, len(records), 50)
        for port in ((0, 1) if kind.endswith("join") else (0,))
    ]
    for step in steps_for(inputs, 2 if kind.endswith("join") else 1):
        apply(op, [step], Output())
        sizes.append(size_of(op))
        if step[0] == "watermark":
            held.append(size_of(op))
    if kind == "global":
        assert max(sizes) == 7  # one group per key, until the end
    else:
        # a few windows or `within` spans of records, not the 10 000 of the input
        assert max(held) <= 60
        op.on_watermark(END_OF_TIME, Output())
        assert size_of(op) == 0
    op.on_end(Output())
    assert size_of(op) == 0 or kind in ("dedupe", "join", "left_join")
    if isinstance(op, PaneWindow):
        assert op.first_seen == {}
    if isinstance(op, SessionWindow):
        assert op.sessions == {} and op.ends == []


def test_restored_session_window_orders_ties_like_uninterrupted_one(workdir: Path) -> None:
    build = factory("session", workdir)
    batches = [
        [{"ts": 0, "k": "old"}],
        [{"ts": 100, "k": "b"}],
        [{"ts": 200, "k": "a"}, {"ts": 200, "k": "b"}],
        [{"ts": 300}],
    ]
    steps = steps_for([(0, b) for b in batches], 1)
    whole, out = build(), Output()
    apply(whole, steps, out)
    first = build()
    apply(first, steps[:4], Output())  # "old" has fired, "b" is open
    second, rest = build(), Output()
    second.restore(roundtrip(first.snapshot()))
    apply(second, steps[4:], rest)
    keys = [r["k"] for r in out.records if r["window_start"] == 200]
    assert keys == ["a", "b"]  # sessions ending together: the first seen first
    assert [r["k"] for r in rest.records if r["window_start"] == 200] == keys
