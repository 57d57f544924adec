"""Alerts: the syntax checks with diagnostics, the planner writes them into the plan, and the
evaluator fires them once a condition has held for its `for` duration and clears them at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from rillet.dsl.diagnostic import SourceText, render_text
from rillet.runtime.metrics import ChannelMetrics, NodeMetrics, RunMetrics
from rillet.runtime.monitor.alert import Alerts
from rillet.runtime.monitor.snapshot import NodeInfo, Sampler, Snapshot
from rillet.runtime.plan import Alert
from tests.conftest import compile_pipeline

PIPELINE = """\
source clicks = generate(count=10)
sink out = stdout()
clicks | into out
"""


def check(alerts: str):
    compiled = compile_pipeline(PIPELINE + alerts, Path("."), name="a.rill")
    return compiled, render_text(compiled.diagnostics, SourceText("a.rill", compiled.source.text))


def test_alerts_are_planned_with_their_threshold_in_the_measures_unit() -> None:
    compiled, text = check(
        "alert backlog when backpressure > 80% for 30s\n"
        "alert stale when watermark_lag >= 2m\n"
        "alert stalled when input_rate < 0.5 for 1m\n"
    )
    assert text == ""
    assert compiled.plan is not None
    assert [
        (a.name, a.measure, a.op, a.threshold, a.hold_ms, a.condition) for a in compiled.plan.alerts
    ] == [
        ("backlog", "backpressure", ">", 0.8, 30_000, "backpressure > 80% for 30s"),
        ("stale", "watermark_lag", ">=", 120_000.0, 0, "watermark_lag >= 2m"),
        ("stalled", "input_rate", "<", 0.5, 60_000, "input_rate < 0.5 for 1m"),
    ]


def test_unknown_measure_suggests_the_closest() -> None:
    _, text = check("alert b when backpresure > 80%\n")
    assert (
        text
        == """\
error: unknown measure `backpresure`
 --> a.rill:4:14
  |
4 | alert b when backpresure > 80%
  |              ^^^^^^^^^^^ did you mean `backpressure`?
  = hint: measures: `backpressure`, `watermark_lag`, `error_rate`, `late_rate`, \
`checkpoint_age`, `input_rate`
"""
    )


@pytest.mark.parametrize(
    ("alert", "message", "label"),
    [
        (
            "alert a when error_rate > 2m",
            "`error_rate` is compared with a percentage like `80%`",
            "found `2m`",
        ),
        (
            "alert a when watermark_lag > 5",
            "`watermark_lag` is compared with a duration like `2m`",
            "found `5`",
        ),
        (
            "alert a when input_rate < 10%",
            "`input_rate` is compared with a number like `100`",
            "found `10%`",
        ),
        (
            "alert a when late_rate > 120%",
            "`120%` is more than 100%",
            "`late_rate` is a share, at most 100%",
        ),
        (
            "alert a when error_rate == 1%",
            "an alert cannot compare with `==`",
            "expected `>`, `>=`, `<` or `<=`",
        ),
    ],
)
def test_ill_fitting_alert_is_a_diagnostic(alert: str, message: str, label: str) -> None:
    compiled, text = check(alert + "\n")
    assert not compiled.ok
    assert text.startswith(f"error: {message}\n --> a.rill:4:")
    assert f"^ {label}" in text


def test_alert_declared_twice() -> None:
    _, text = check("alert a when error_rate > 1%\nalert a when late_rate > 1%\n")
    assert "error: alert `a` is declared twice" in text
    assert "first declared on line 4" in text


def test_percent_sign_is_still_modulo_in_expressions() -> None:
    compiled, text = check("param p = 80%3\nclicks | where user % p == 0 | into out\n")
    assert text == ""
    assert compiled.checked is not None and compiled.checked.params["p"] == 2


NODES = [
    NodeInfo(0, "clicks", "source", "clicks", outputs=(1,)),
    NodeInfo(1, "where@3", "stage", "where@3", outputs=(2,)),
    NodeInfo(2, "out", "sink", "out"),
]


class Run:
    """Constructed metrics moving one second at a time."""

    def __init__(self) -> None:
        self.metrics = RunMetrics()
        for info in NODES:
            self.metrics.nodes[info.id] = NodeMetrics(info.name, info.kind)
            if info.kind != "source":
                self.metrics.channels[info.id] = ChannelMetrics(capacity_batches=4)
        self.sampler = Sampler(NODES, self.metrics, started_s=0.0)
        self.now_s = 0

    def alerts(self, *alerts: Alert) -> Alerts:
        """Alerts with this run's start as the baseline that rates start from."""
        evaluator = Alerts(alerts)
        assert evaluator.evaluate(self.sampler.take(0.0, 0)) == []
        return evaluator

    def second(self, read: int = 1000, errors: int = 0, queued: int = 0) -> Snapshot:
        self.now_s += 1
        self.metrics.nodes[0].records_out += read
        self.metrics.nodes[1].errors += errors
        self.metrics.channels[2].queued_batches = queued
        return self.sampler.take(float(self.now_s), self.now_s * 1000)


def test_alert_fires_after_holding_for_its_duration_and_clears_at_once() -> None:
    run = Run()
    alerts = run.alerts(
        Alert("backlog", "backpressure", ">", 0.8, 3000, "backpressure > 80% for 3s")
    )
    changes = [alerts.evaluate(run.second(queued=q)) for q in (4, 4, 4, 4, 4, 1, 4)]
    fired = [[(c.status.alert.name, c.fired) for c in step] for step in changes]
    assert fired == [[], [], [], [("backlog", True)], [], [("backlog", False)], []]
    assert alerts.statuses[0].holding_since_s == 7.0 and not alerts.statuses[0].active


def test_error_rate_is_errors_among_records_read_over_the_window() -> None:
    run = Run()
    alerts = run.alerts(Alert("bad", "error_rate", ">", 0.01, 0, "error_rate > 1%"))
    assert alerts.evaluate(run.second(read=1000, errors=5)) == []
    assert alerts.statuses[0].value == 0.005
    [change] = alerts.evaluate(run.second(read=1000, errors=50))
    assert change.fired and change.status.shown == "2.8%"  # 55 of 2,000


def test_measure_that_cannot_be_computed_does_not_hold() -> None:
    run = Run()
    alerts = run.alerts(
        Alert("stale", "watermark_lag", ">", 1.0, 0, "watermark_lag > 1ms"),
        Alert("bad", "error_rate", ">", 0.0, 0, "error_rate > 0%"),
    )
    assert alerts.evaluate(run.second(read=0)) == []
    assert [s.shown for s in alerts.statuses] == ["n/a", "n/a"]


def test_backpressure_names_the_fullest_channel() -> None:
    run = Run()
    alerts = run.alerts(Alert("backlog", "backpressure", ">=", 1.0, 0, "backpressure >= 100%"))
    [change] = alerts.evaluate(run.second(queued=4))
    assert change.status.shown == "100% at out"
