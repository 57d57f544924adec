"""Event time (runtime/eventtime.py): timestamps as epoch milliseconds or ISO-8601 text, bad
ones sent to the error sink with a reason, and the `event_time` operator's watermarks (after a
batch that advances them), per part of a source with parts (the least over them), and idleness
(on a `ManualClock`, never a real sleep).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pytest

from rillet.runtime import ManualClock
from rillet.runtime.eventtime import EventTimeError, EventTimeOperator, to_epoch_ms
from rillet.runtime.item import Batch, Origin
from rillet.runtime.operator import Output
from tests.conftest import run_pipeline
from tests.runtime._collect import CollectSink
from tests.runtime._streams import write_jsonl

NEW_YEAR = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_700_000_000_123, 1_700_000_000_123),
        (-5, -5),
        (12.9, 12),
        (-12.9, -12),
        ("2024-01-01T00:00:00Z", NEW_YEAR),
        ("2024-01-01T00:00:00.250Z", NEW_YEAR + 250),
        ("2024-01-01 00:00:01", NEW_YEAR + 1000),  # no zone: UTC
        ("2024-01-01", NEW_YEAR),
        ("2024-01-01T01:30:00+01:00", NEW_YEAR + 30 * 60_000),
        ("1969-12-31T23:59:59.999Z", -1),
        ("2024-01-01T00:00:00.000999Z", NEW_YEAR),  # microseconds truncated to the millisecond
    ],
)
def test_to_epoch_ms_reads_epoch_numbers_and_iso_text(value: object, expected: int) -> None:
    assert to_epoch_ms(value) == expected


def test_to_epoch_ms_agrees_with_datetime_for_offsets() -> None:
    moment = datetime(2031, 7, 4, 12, 34, 56, 789_000, tzinfo=timezone(timedelta(hours=-7)))
    assert to_epoch_ms(moment.isoformat()) == round(moment.timestamp() * 1000)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "the record has no event time (null or missing)"),
        ("yesterday", "event time 'yesterday' is not an ISO-8601 time"),
        (True, "event time must be epoch ms or an ISO-8601 string, got bool"),
        ([1], "event time must be epoch ms or an ISO-8601 string, got list"),
    ],
)
def test_to_epoch_ms_refuses_other_values_with_reason(value: object, reason: str) -> None:
    with pytest.raises(EventTimeError) as raised:
        to_epoch_ms(value)
    assert str(raised.value) == reason


def test_window_reads_iso_text_and_epoch_ms_alike(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"ts": "2024-01-01T00:00:09.999Z", "n": 1},
            {"ts": NEW_YEAR + 3_000, "n": 2},
            {"ts": "2024-01-01T01:00:10+01:00", "n": 3},
            {"ts": float(NEW_YEAR + 10_500), "n": 4},
        ],
    )
    out = CollectSink()
    run_pipeline(
        'source s = file("in.jsonl")\nsink out = file("out.jsonl")\n'
        "s | event_time ts lateness 1m | window tumbling 10s | aggregate { ns = "
        "collect(n) } | into out\n",
        tmp_path,
        sinks={"out": out},
    )
    assert out.records == [
        {"window_start": NEW_YEAR, "window_end": NEW_YEAR + 10_000, "ns": [1, 2]},
        {"window_start": NEW_YEAR + 10_000, "window_end": NEW_YEAR + 20_000, "ns": [3, 4]},
    ]


def test_record_without_valid_event_time_goes_to_error_sink_with_reason(tmp_path: Path) -> None:
    lines = [
        '{"ts": 5, "n": 1}\n',
        '{"n": 2}\n',
        '{"ts": null, "n": 3}\n',
        '{"ts": "soon", "n": 4}\n',
        '{"ts": true, "n": 5}\n',
        '{"ts": 7, "n": 6}\n',
    ]
    (tmp_path / "in.jsonl").write_text("".join(lines))
    out, rejects = CollectSink(), CollectSink()
    metrics = run_pipeline(
        'source s = file("in.jsonl")\nsink out = file("out.jsonl")\n'
        'sink rejects = file("rejects.jsonl")\nerrors into rejects\n'
        "s | event_time ts | window tumbling 10ms | aggregate { ns = collect(n) } | into out\n",
        tmp_path,
        sinks={"out": out, "rejects": rejects},
    )
    assert out.records == [{"window_start": 0, "window_end": 10, "ns": [1, 6]}]
    assert [
        (r["raw"]["n"], r["reason"], r["operator"], r["at"], r["source"]) for r in rejects.records
    ] == [
        (
            2,
            "`event_time` failed: the record has no event time (null or missing)",
            "event_time",
            "test.rill:5:5",
            "s",
        ),
        (
            3,
            "`event_time` failed: the record has no event time (null or missing)",
            "event_time",
            "test.rill:5:5",
            "s",
        ),
        (
            4,
            "`event_time` failed: event time 'soon' is not an ISO-8601 time",
            "event_time",
            "test.rill:5:5",
            "s",
        ),
        (
            5,
            "`event_time` failed: event time must be epoch ms or an ISO-8601 string, got bool",
            "event_time",
            "test.rill:5:5",
            "s",
        ),
    ]
    starts = [len("".join(lines[:i])) for i in range(len(lines))]  # offsets: bytes into the file
    assert [r["offset"] for r in rejects.records] == starts[1:5]
    (event_time,) = [m for m in metrics.nodes.values() if m.name.startswith("event_time")]
    assert event_time.errors == 4


# -- the operator --------------------------------------------------------------------------------


ONE = Origin("s")


def process(op: EventTimeOperator, records: list[dict], origin: Origin = ONE) -> Output:
    out = Output()
    op.process(Batch(records, list(range(len(records))), origin), 0, out)
    return out


def tick(op: EventTimeOperator, clock: ManualClock, seconds: float) -> Output:
    clock.advance(seconds)
    out = Output()
    op.on_tick(clock.time_ms(), out)
    return out


TOPIC = ("0", "1", "2")


def part(name: str, parts: tuple[str, ...] = TOPIC) -> Origin:
    """A batch's origin in partition `name` of a topic read by a `Parted` source."""
    return Origin("k", part=name, parts=parts)


def times(*ts: int) -> list[dict]:
    return [{"ts": t} for t in ts]


def test_watermark_is_max_seen_minus_lateness_sent_only_when_it_advances() -> None:
    op = EventTimeOperator("ts", 3, None, ManualClock())
    assert process(op, []).watermark is None
    assert process(op, [{"ts": 10}, {"ts": 4}]).watermark == 7
    assert process(op, [{"ts": 8}, {"ts": 10}]).watermark is None
    assert process(op, [{"ts": "bad"}]).watermark is None
    assert process(op, [{"ts": 9}, {"ts": 15}, {"ts": 11}]).watermark == 12
    assert op.tick_s is None  # no idle clause: no ticks


def test_input_goes_idle_after_quiet_period_on_clock() -> None:
    clock = ManualClock(start_ms=1_000)
    op = EventTimeOperator("ts", 0, 1_000, clock)
    assert process(op, [{"ts": 5}]).watermark == 5
    clock.advance(0.999)
    out = Output()
    op.on_tick(clock.time_ms(), out)
    assert not out.idle
    clock.advance(0.001)
    op.on_tick(clock.time_ms(), out)
    assert out.idle
    again = Output()
    op.on_tick(clock.time_ms() + 5_000, again)
    assert not again.idle  # said once


def test_idle_input_resuming_sends_watermark_even_when_not_advanced() -> None:
    clock = ManualClock()
    op = EventTimeOperator("ts", 0, 1_000, clock)
    process(op, [{"ts": 50}])
    clock.advance(1)
    op.on_tick(clock.time_ms(), Output())
    # downstream ignores an idle input's watermark until it sends a normal one again
    assert process(op, [{"ts": 40}]).watermark == 50
    assert process(op, [{"ts": 45}]).watermark is None
    assert process(op, [{"ts": 60}]).watermark == 60


def test_event_time_state_survives_snapshot() -> None:
    op = EventTimeOperator("ts", 2, None, ManualClock())
    process(op, [{"ts": 10}])
    copy = EventTimeOperator("ts", 2, None, ManualClock())
    copy.restore(op.snapshot())
    assert process(copy, [{"ts": 11}]).watermark == 9
    assert process(copy, [{"ts": 5}]).watermark is None


# -- parts -----------------------------------------------------------------------------------


def test_the_watermark_waits_for_every_listed_part_then_is_the_least_of_them() -> None:
    op = EventTimeOperator("ts", 5, None, ManualClock())
    assert process(op, times(100, 110), part("0")).watermark is None  # 1 and 2 sent nothing
    assert process(op, times(200), part("2")).watermark is None
    assert process(op, times(40), part("1")).watermark == 35
    assert process(op, times(300), part("0")).watermark is None  # 1 lags: it holds the rest
    assert process(op, times(60), part("1")).watermark == 55
    assert process(op, times(250), part("1")).watermark == 195  # now 2 is the least


def test_sources_without_parts_are_one_part_together_as_before() -> None:
    op = EventTimeOperator("ts", 0, None, ManualClock())
    assert process(op, times(100), Origin("a")).watermark == 100
    assert process(op, times(50), Origin("b")).watermark is None
    assert process(op, times(120), Origin("b")).watermark == 120


def test_a_quiet_part_goes_idle_and_stops_holding_the_watermark_until_it_sends() -> None:
    clock = ManualClock()
    op = EventTimeOperator("ts", 0, 1_000, clock)
    process(op, times(10), part("1"))
    process(op, times(20), part("2"))
    assert process(op, times(50), part("0")).watermark == 10
    clock.advance(0.6)
    process(op, times(60), part("0"))
    process(op, times(70), part("2"))
    quiet = tick(op, clock, 0.4)  # 1 has sent nothing for 1 s, 0 and 2 for 0.4 s
    assert (quiet.watermark, quiet.idle) == (60, False)
    assert process(op, times(30), part("1")).watermark is None  # back: counts, never goes back
    assert process(op, times(90), part("0")).watermark is None  # 1 holds it again
    assert process(op, times(80), part("1")).watermark == 70


def test_a_listed_part_that_never_sends_holds_until_it_goes_idle() -> None:
    clock = ManualClock()
    op = EventTimeOperator("ts", 0, 1_000, clock)
    assert process(op, times(10), part("0", ("0", "1"))).watermark is None
    clock.advance(0.5)
    assert process(op, times(20), part("0", ("0", "1"))).watermark is None
    assert tick(op, clock, 0.5).watermark == 20  # 1 listed 1 s ago, silent since


def test_when_every_part_is_idle_the_watermark_is_the_largest_and_the_input_is_idle() -> None:
    clock = ManualClock()
    op = EventTimeOperator("ts", 5, 1_000, clock)
    for name, ts in (("0", 100), ("1", 30), ("2", 70)):
        process(op, times(ts), part(name))
    idle = tick(op, clock, 1)
    assert (idle.watermark, idle.idle) == (95, True)
    assert not tick(op, clock, 5).idle  # said once
    # downstream ignores an idle input's watermark until it sends a normal one again
    assert process(op, times(40), part("1")).watermark == 95


def test_a_part_first_seen_late_does_not_move_the_watermark_back() -> None:
    op = EventTimeOperator("ts", 0, None, ManualClock())
    for name in ("0", "1"):
        process(op, times(100), part(name, ("0", "1")))
    grown = ("0", "1", "2")  # the topic got a partition, or another source joined the union
    assert process(op, times(150), part("0", grown)).watermark is None  # 2 is waited for
    assert process(op, times(20), part("2", grown)).watermark is None  # judged against 100
    assert op.emitted == 100
    assert process(op, times(120), part("2", grown)).watermark is None  # 1 holds at 100 now
    assert process(op, times(130), part("1", grown)).watermark == 120


def test_the_parts_survive_a_snapshot_idle_ones_included() -> None:
    clock = ManualClock()
    op = EventTimeOperator("ts", 0, 1_000, clock)
    process(op, times(10), part("1"))
    clock.advance(1)
    process(op, times(50), part("0"))
    process(op, times(40), part("2"))
    assert tick(op, clock, 0).watermark == 40  # 1 idle
    saved = msgspec.msgpack.decode(msgspec.msgpack.encode(op.snapshot()))
    copy = EventTimeOperator("ts", 0, 1_000, ManualClock())
    copy.restore(saved)
    assert msgspec.msgpack.encode(copy.snapshot()) == msgspec.msgpack.encode(op.snapshot())
    for each in (op, copy):  # the resumed run goes on as the uninterrupted one
        assert process(each, times(60), part("2")).watermark == 50
        assert process(each, times(20), part("1")).watermark is None
        assert process(each, times(70), part("0")).watermark is None


def test_a_snapshot_from_before_parts_holds_no_partition_back() -> None:
    """Version 2 kept one largest time for the whole input, Kafka's partitions included."""
    op = EventTimeOperator("ts", 5, None, ManualClock())
    op.restore({"version": 2, "max_seen": 130, "emitted": 125})
    assert process(op, times(120), part("0", ("0", "1"))).watermark is None
    assert process(op, times(140), part("1", ("0", "1"))).watermark is None  # 0 holds it
    assert process(op, times(150), part("0", ("0", "1"))).watermark == 135
