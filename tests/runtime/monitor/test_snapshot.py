"""Snapshots from constructed metrics: rates over the window, batch latency, channel fill,
watermark lag, and which node is named the bottleneck, in the terminal view and plain lines."""

from __future__ import annotations

import pytest
from rich.console import Console

from rillet.runtime.metrics import ChannelMetrics, NodeMetrics, RunMetrics
from rillet.runtime.monitor import plain
from rillet.runtime.monitor.snapshot import NodeInfo, Sampler, Snapshot
from rillet.runtime.monitor.terminal import render

NODES = [
    NodeInfo(0, "clicks", "source", "clicks", outputs=(1,)),
    NodeInfo(1, "where@3", "stage", "where@3", outputs=(2,)),
    NodeInfo(2, "aggregate@4", "operator", "aggregate@4", outputs=(3,)),
    NodeInfo(3, "out", "sink", "out"),
]


def metrics() -> RunMetrics:
    run = RunMetrics()
    for info in NODES:
        run.nodes[info.id] = NodeMetrics(info.name, info.kind)
        if info.kind != "source":
            run.channels[info.id] = ChannelMetrics(capacity_batches=4)
    return run


def advance(run: RunMetrics, records: int, busy_s: dict[int, float]) -> None:
    """Every node passes `records` on, in batches of 100, spending `busy_s[id]` on them."""
    for node_id, m in run.nodes.items():
        m.records_in += records if m.kind != "source" else 0
        m.records_out += records if m.kind != "sink" else 0
        m.batches_in += records // 100 if m.kind != "source" else 0
        m.batches_out += records // 100 if m.kind != "sink" else 0
        m.busy_s += busy_s.get(node_id, 0.0)


def fill(run: RunMetrics, **queued: int) -> None:
    labels = {info.label: info.id for info in NODES}
    for label, batches in queued.items():
        run.channels[labels[label.replace("_", "@")]].queued_batches = batches


def snapshot(run: RunMetrics, busy_s: dict[int, float] | None = None) -> Snapshot:
    sampler = Sampler(NODES, run, started_s=100.0)
    advance(run, 2000, busy_s or {})
    return sampler.take(now_s=102.0, time_ms=1_000_000)


def test_rates_are_records_per_second_since_the_last_reading() -> None:
    run = metrics()
    sampler = Sampler(NODES, run, started_s=0.0, window_s=1.0)
    advance(run, 1000, {2: 0.5})
    first = sampler.take(now_s=1.0, time_ms=1000)
    advance(run, 3000, {2: 0.3})
    second = sampler.take(now_s=2.0, time_ms=2000)
    assert first.node("clicks").out_per_s == 1000
    assert second.node("clicks").out_per_s == 3000
    assert second.node("aggregate@4").batch_ms == pytest.approx(10.0)  # 0.3 s, 30 batches
    assert second.node("aggregate@4").busy == pytest.approx(0.3)
    assert second.read == 4000


def test_rates_average_over_the_window() -> None:
    run = metrics()
    sampler = Sampler(NODES, run, started_s=0.0, window_s=3.0)
    for second, records in enumerate([1000, 3000, 2000, 6000], start=1):
        advance(run, records, {})
        latest = sampler.take(now_s=float(second), time_ms=second * 1000)
    assert latest.node("out").in_per_s == (3000 + 2000 + 6000) / 3


def test_fill_and_watermark_lag() -> None:
    run = metrics()
    fill(run, aggregate_4=2)
    run.nodes[2].watermark_ms = 990_000
    shot = snapshot(run)
    assert shot.node("aggregate@4").fill == 0.5
    assert shot.node("aggregate@4").watermark_lag_ms == 10_000
    assert shot.node("clicks").fill is None
    assert shot.node("out").watermark_lag_ms is None


def test_no_bottleneck_when_no_channel_is_full() -> None:
    run = metrics()
    fill(run, where_3=2, aggregate_4=1)
    assert snapshot(run).bottleneck is None


def test_bottleneck_with_no_channel_full_is_the_busiest_node_when_the_loop_is_saturated() -> None:
    run = metrics()
    fill(run, where_3=2, aggregate_4=1)
    shot = snapshot(run, busy_s={0: 0.5, 1: 0.3, 2: 0.8, 3: 0.2})  # 1.8 of 2 seconds
    assert shot.bottleneck is not None and shot.bottleneck.info.label == "aggregate@4"
    quieter = metrics()
    fill(quieter, where_3=2, aggregate_4=1)
    assert snapshot(quieter, busy_s={0: 0.5, 1: 0.3, 2: 0.6, 3: 0.1}).bottleneck is None  # 1.5


def test_bottleneck_is_the_node_with_a_full_input_and_an_output_that_is_not() -> None:
    run = metrics()
    fill(run, where_3=4, aggregate_4=4, out=1)  # aggregate blocks where, out keeps up
    shot = snapshot(run)
    assert shot.bottleneck is not None and shot.bottleneck.info.label == "aggregate@4"


def test_bottleneck_is_a_sink_whose_input_is_full() -> None:
    run = metrics()
    fill(run, where_3=4, aggregate_4=4, out=4)
    shot = snapshot(run)
    assert shot.bottleneck is not None and shot.bottleneck.info.label == "out"


def test_bottleneck_is_the_node_taking_the_event_loop_when_one_does() -> None:
    """Saturated loop: records wait in front of the node the loop reaches least (where@3),
    but aggregate@4 takes 1.6 of 2 seconds: it is the slow one."""
    run = metrics()
    fill(run, where_3=4, aggregate_4=0)
    shot = snapshot(run, busy_s={1: 0.02, 2: 1.6})
    assert shot.bottleneck is not None and shot.bottleneck.info.label == "aggregate@4"


def test_bottleneck_is_the_busiest_node_after_the_full_channel_not_the_one_in_front_of_it() -> None:
    """The loop reaches where@3 less often than the source fills its channel, so records wait
    there, but aggregate@4, after it, takes 0.8 of 2 seconds (less than half): it is named."""
    run = metrics()
    fill(run, where_3=4, aggregate_4=0)
    shot = snapshot(run, busy_s={0: 0.4, 1: 0.02, 2: 0.8, 3: 0.1})
    assert shot.bottleneck is not None and shot.bottleneck.info.label == "aggregate@4"
    assert "bottleneck operator aggregate@4 (busy 40% of the time)" in plain.lines(shot, [])[-1][0]


def test_bottleneck_is_the_source_when_reading_takes_the_most_time() -> None:
    run = metrics()
    fill(run, where_3=4)
    shot = snapshot(run, busy_s={0: 1.4, 1: 0.1, 2: 0.2, 3: 0.1})
    assert shot.bottleneck is not None and shot.bottleneck.info.label == "clicks"
    assert "bottleneck source clicks (reading 70% of the time)" in plain.lines(shot, [])[-1][0]


def _text(renderable: object) -> str:
    console = Console(record=True, width=140, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_terminal_view_names_the_bottleneck_and_shows_every_node() -> None:
    run = metrics()
    fill(run, where_3=4, aggregate_4=4, out=1)
    run.nodes[2].late = 7
    run.nodes[1].errors = 3
    text = _text(render(snapshot(run), [], "p.rill"))
    assert "bottleneck: operator aggregate@4 (input full, output not)" in text
    assert "aggregate@4 ◀" in text
    for label in ("clicks", "where@3", "aggregate@4", "out"):
        assert label in text
    assert "1,000/s" in text  # 2,000 records in 2 s
    assert "100%" in text and "25%" in text


def test_terminal_view_says_when_there_is_no_bottleneck() -> None:
    assert "no bottleneck" in _text(render(snapshot(metrics()), [], "p.rill"))


def test_plain_lines_one_per_node_then_the_bottleneck() -> None:
    run = metrics()
    fill(run, where_3=4, aggregate_4=4, out=1)
    lines = plain.lines(snapshot(run), [])
    assert len(lines) == len(NODES) + 1
    text, fields = lines[2]
    words = " ".join(text.split())
    assert words.startswith("operator aggregate@4 in 1,000/s out 1,000/s fill 100%")
    assert fields["node"] == "aggregate@4" and fields["fill"] == 1.0
    summary, summary_fields = lines[-1]
    assert "bottleneck operator aggregate@4 (input full, output not)" in summary
    assert summary_fields["bottleneck"] == "aggregate@4"


def test_progress_bar_with_eta_for_a_bounded_file() -> None:
    run = metrics()
    readings = iter([(0, 0), (100, 1000), (400, 1000)])  # not open yet, then 300 B/s
    sampler = Sampler(NODES, run, started_s=0.0, progress={0: lambda: next(readings)})
    sampler.take(0.5, 500)
    sampler.take(1.0, 1000)
    shot = sampler.take(2.0, 2000)
    progress = shot.node("clicks").progress
    assert progress is not None and (progress.done, progress.total) == (400, 1000)
    assert progress.eta_s == 2.0  # 600 bytes left at 300 bytes a second
    text = _text(render(shot, [], "p.rill"))
    assert "40%" in text and "400 B / 1 kB" in text and "ETA 2.0s" in text
