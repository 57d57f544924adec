"""Watermark merging over a node's inputs (runtime/inputs.py): the minimum of the inputs, only
forward; an ended input stops holding it back, and so does an idle one until it sends a normal
watermark again. Directly on `Inputs`, then through a running `union` whose inputs are fed by
the test, with a `ManualClock` making one input idle.
"""

from __future__ import annotations

from pathlib import Path

from anyio import wait_all_tasks_blocked
from hypothesis import given, settings
from hypothesis import strategies as st

from rillet.runtime import ManualClock, RunMetrics
from rillet.runtime.inputs import Inputs
from rillet.runtime.item import Watermark
from tests.runtime._collect import CollectSink
from tests.runtime._streams import FeedSource, drive

IDLE = Watermark(-(2**63), idle=True)


def test_merged_watermark_waits_for_every_input_then_is_their_minimum() -> None:
    inputs = Inputs(3)
    assert inputs.watermark(0, Watermark(10)) is None
    assert inputs.watermark(2, Watermark(30)) is None
    assert inputs.watermark(1, Watermark(20)) == Watermark(10)
    assert inputs.watermark(1, Watermark(25)) is None  # port 0 still holds it at 10
    assert inputs.watermark(0, Watermark(40)) == Watermark(25)
    assert inputs.watermark(0, Watermark(5)) is None  # a port's watermark never goes back


def test_merged_watermark_only_moves_forward() -> None:
    inputs = Inputs(2)
    inputs.watermark(0, Watermark(10))
    assert inputs.watermark(1, Watermark(10)) == Watermark(10)
    assert inputs.watermark(1, Watermark(10)) is None
    assert inputs.watermark(0, Watermark(12)) is None
    assert inputs.watermark(1, Watermark(11)) == Watermark(11)


def test_ended_input_stops_holding_watermark_back() -> None:
    inputs = Inputs(2)
    inputs.watermark(0, Watermark(10))
    assert inputs.watermark(1, Watermark(50)) == Watermark(10)
    assert inputs.end(0) == (False, Watermark(50))
    assert inputs.watermark(1, Watermark(60)) == Watermark(60)
    assert inputs.end(1) == (True, None)


def test_input_ended_before_any_watermark_lets_the_other_decide() -> None:
    inputs = Inputs(2)
    assert inputs.end(1) == (False, None)  # port 0 has said nothing yet
    assert inputs.watermark(0, Watermark(7)) == Watermark(7)


def test_idle_input_stops_holding_back_until_it_sends_a_watermark() -> None:
    inputs = Inputs(2)
    inputs.watermark(0, Watermark(10))
    assert inputs.watermark(1, Watermark(100)) == Watermark(10)
    assert inputs.watermark(0, IDLE) == Watermark(100)
    assert inputs.watermark(1, Watermark(120)) == Watermark(120)
    assert inputs.watermark(0, Watermark(20)) is None  # active again: holds at 120 for now
    assert inputs.watermark(1, Watermark(130)) is None
    assert inputs.watermark(0, Watermark(125)) == Watermark(125)


def test_all_inputs_idle_sends_one_idle_watermark() -> None:
    inputs = Inputs(2)
    inputs.watermark(0, Watermark(10))
    inputs.watermark(1, Watermark(20))
    assert inputs.watermark(0, IDLE) == Watermark(20)
    assert inputs.watermark(1, IDLE) == Watermark(20, idle=True)
    assert inputs.watermark(1, IDLE) is None
    # an input coming back says the merged watermark is normal again, even if it has not moved
    assert inputs.watermark(1, Watermark(15)) == Watermark(20)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(-50, 50) | st.none()), max_size=40))
def test_merged_watermark_is_running_minimum_of_open_inputs(events: list) -> None:
    """`(port, ts)` is a watermark on the port, `(port, None)` ends it."""
    inputs = Inputs(3)
    marks: dict[int, int] = {}
    ended: set[int] = set()
    current = None
    for port, ts in events:
        if port in ended:
            continue
        if ts is None:
            ended.add(port)
            done, merged = inputs.end(port)
            assert done == (len(ended) == 3)
        else:
            marks[port] = max(marks.get(port, ts), ts)
            merged = inputs.watermark(port, Watermark(ts))
        expected = None
        open_ports = [p for p in range(3) if p not in ended]
        if open_ports and all(p in marks for p in open_ports):
            low = min(marks[p] for p in open_ports)
            if current is None or low > current:
                expected = current = low
        assert merged == (None if expected is None else Watermark(expected))


# -- in a running pipeline -----------------------------------------------------------------------

UNION = """source a = file("unused-a.jsonl")
source b = file("unused-b.jsonl")
sink out = file("out.jsonl")
stream ta = a | event_time ts{idle}
stream tb = b | event_time ts
union(ta, tb) | window tumbling 10ms | aggregate by s {{ n = count() }} | into out
"""


def test_union_window_waits_for_slower_input_then_fires_when_it_ends(tmp_path: Path) -> None:
    a, b, out = FeedSource(), FeedSource(), CollectSink()

    async def script() -> None:
        a.feed([{"ts": 1, "s": "a"}])
        b.feed([{"ts": 2, "s": "b"}, {"ts": 35, "s": "b"}])
        await wait_all_tasks_blocked()
        assert out.records == []  # a holds the watermark at 1
        a.feed([{"ts": 12, "s": "a"}])
        await wait_all_tasks_blocked()
        assert out.records == [
            {"window_start": 0, "window_end": 10, "s": "a", "n": 1},
            {"window_start": 0, "window_end": 10, "s": "b", "n": 1},
        ]
        a.end()
        await wait_all_tasks_blocked()
        assert out.records[2:] == [{"window_start": 10, "window_end": 20, "s": "a", "n": 1}]
        b.end()

    drive(tmp_path, UNION.format(idle=""), script, sources={"a": a, "b": b}, sinks={"out": out})
    assert out.records[3:] == [{"window_start": 30, "window_end": 40, "s": "b", "n": 1}]


def test_idle_input_stops_holding_union_watermark_until_it_resumes(tmp_path: Path) -> None:
    a, b, out, clock = FeedSource(), FeedSource(), CollectSink(), ManualClock()

    async def script() -> None:
        a.feed([{"ts": 1, "s": "a"}])
        b.feed([{"ts": 2, "s": "b"}, {"ts": 25, "s": "b"}])
        await wait_all_tasks_blocked()
        clock.advance(0.5)
        await wait_all_tasks_blocked()
        assert out.records == []
        clock.advance(0.5)  # a has been quiet for its `idle 1s`
        await wait_all_tasks_blocked()
        assert out.records == [
            {"window_start": 0, "window_end": 10, "s": "a", "n": 1},
            {"window_start": 0, "window_end": 10, "s": "b", "n": 1},
        ]
        a.feed([{"ts": 0, "s": "a"}])  # late, but a is back: it holds the watermark again
        await wait_all_tasks_blocked()
        b.feed([{"ts": 45, "s": "b"}])
        await wait_all_tasks_blocked()
        assert out.records[2:] == []
        a.feed([{"ts": 28, "s": "a"}])  # on time: [20, 30) is still open
        await wait_all_tasks_blocked()
        assert out.records[2:] == []
        a.feed([{"ts": 31, "s": "a"}])
        await wait_all_tasks_blocked()
        assert out.records[2:] == [
            {"window_start": 20, "window_end": 30, "s": "b", "n": 1},
            {"window_start": 20, "window_end": 30, "s": "a", "n": 1},
        ]
        a.end()
        b.end()

    metrics = RunMetrics()
    drive(
        tmp_path,
        UNION.format(idle=" idle 1s"),
        script,
        clock=clock,
        sources={"a": a, "b": b},
        sinks={"out": out},
        metrics=metrics,
    )
    assert out.records[4:] == [
        {"window_start": 30, "window_end": 40, "s": "a", "n": 1},
        {"window_start": 40, "window_end": 50, "s": "b", "n": 1},
    ]
    assert sum(m.late for m in metrics.nodes.values()) == 1
