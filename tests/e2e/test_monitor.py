"""Monitoring a real `rillet run` (a subprocess on a `generate` source at a fixed rate):
`/metrics` counters advance between scrapes, `/healthz` and `/api/status` answer, an alert
fires in the log and in `/metrics`, JSON log lines, plain periodic lines when standard error
is not a terminal, and none with `-q`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import rillet
from tests.runtime.monitor.running import Running, eventually

LIVE = """\
set batch_timeout = 100ms
set checkpoint_interval = 500ms
source clicks = generate(rate=2000)
sink   out    = file("out/out.jsonl")
sink   late   = file("out/late.jsonl")
clicks
  | event_time ts lateness 1s
  | where status == 200
  | window tumbling 1s
  | aggregate by page { n = count() }
  | late into late
  | into out
"""

BAD_INPUT = """\
set batch_timeout = 100ms
source clicks  = generate(rate=2000)
sink   out     = file("out/out.jsonl")
sink   rejects = file("out/rejects.jsonl")
errors into rejects
alert bad_input when error_rate > 1%
alert backlog   when backpressure > 80% for 1h
clicks | derive share = 100 // (user % 10) | into out
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "live.rill").write_text(LIVE)
    (tmp_path / "bad.rill").write_text(BAD_INPUT)
    return tmp_path


def _value(metrics: dict, name: str, **labels: str) -> float:
    return metrics[(name, tuple(sorted(labels.items())))]


def _scrape_when(
    run: Running,
    read_is: Callable[[float], bool],
    what: str,
    also: Callable[[dict], bool] = lambda _: True,
) -> dict:
    """The first scrape of /metrics where the records the source read satisfy `read_is`, and
    the metrics `also`."""

    def scrape() -> dict | None:
        metrics = run.metrics()
        read = _value(metrics, "rillet_records_out_total", node="clicks", kind="source")
        return metrics if read_is(read) and also(metrics) else None

    return eventually(scrape, what)


def test_metrics_counters_advance_between_scrapes(folder: Path) -> None:
    with Running(folder, "live.rill", "--http", "127.0.0.1:0") as run:
        first = _scrape_when(run, lambda read: read > 0, "records read")
        before = _value(first, "rillet_records_out_total", node="clicks", kind="source")
        second = _scrape_when(run, lambda read: read > before, "the counter advancing")
        assert _value(second, "rillet_records_in_total", node="out", kind="sink") >= _value(
            first, "rillet_records_in_total", node="out", kind="sink"
        )
        names = {name for name, _ in second}
        assert {
            "rillet_records_in_total",
            "rillet_records_out_total",
            "rillet_errors_total",
            "rillet_late_total",
            "rillet_channel_fill_ratio",
            "rillet_watermark_milliseconds",
            "rillet_watermark_lag_seconds",
            "rillet_checkpoint_duration_seconds_bucket",
            "rillet_checkpoint_duration_seconds_sum",
            "rillet_checkpoint_size_bytes_bucket",
            "rillet_checkpoints_total",
            "rillet_uptime_seconds",
        } <= names
        assert all(name.startswith("rillet_") for name in names)
        nodes = {
            dict(labels)["node"] for name, labels in second if name == "rillet_records_in_total"
        }
        assert {"clicks", "out", "late"} <= nodes and any(n.startswith("aggregate@") for n in nodes)
        assert 0 <= _value(second, "rillet_channel_fill_ratio", node="out", kind="sink") <= 1
        checkpointed = _scrape_when(
            run,
            lambda _: True,
            "a checkpoint",
            lambda m: _value(m, "rillet_checkpoints_total") >= 1,
        )
        assert _value(checkpointed, "rillet_checkpoint_duration_seconds_count") >= 1
        assert _value(checkpointed, "rillet_checkpoint_size_bytes_count") >= 1

        status, body = run.get("/healthz")
        assert status == 200 and json.loads(body)["status"] == "running"
        api = run.json("/api/status")
        assert [n["label"] for n in api["nodes"]][0] == "clicks"
        assert {"from", "to", "kind", "fill"} <= set(api["edges"][0])
        assert run.get("/nope")[0] == 404
        assert run.stop() == 130


def test_alert_fires_in_the_log_and_in_metrics(folder: Path) -> None:
    with Running(folder, "bad.rill", "--http", "127.0.0.1:0", "--log-format", "json") as run:
        line = run.wait_line(r'"message":"alert `bad_input` firing')
        record = json.loads(line.string)
        assert record["level"] == "warning"
        assert record["fields"]["alert"] == "bad_input"
        assert record["fields"]["condition"] == "error_rate > 1%"
        assert record["fields"]["value"] > 0.01
        assert set(record) == {"ts", "level", "message", "fields"}
        metrics = run.metrics()
        assert _value(metrics, "rillet_alert_active", alert="bad_input") == 1.0
        assert _value(metrics, "rillet_alert_active", alert="backlog") == 0.0
        assert _value(metrics, "rillet_errors_total", node="derive@8", kind="stage") > 0
        alerts = {a["name"]: a for a in run.json("/api/status")["alerts"]}
        assert alerts["bad_input"]["active"] and not alerts["backlog"]["active"]
        assert run.stop() == 130
    assert all(json.loads(line) for line in run.lines if line.startswith("{"))


def test_plain_periodic_lines_when_stderr_is_not_a_terminal(folder: Path) -> None:
    with Running(folder, "live.rill") as run:
        run.wait_line(r"^rillet: running \S+ .*bottleneck")
        assert run.stop() == 130
    lines = run.lines
    summary = next(i for i, line in enumerate(lines) if line.startswith("rillet: running"))
    nodes = [line.split()[1:3] for line in lines[summary - 6 : summary]]
    assert nodes[0] == ["source", "clicks"] and nodes[-1] == ["sink", "late"]
    assert "read" in lines[summary - 6] and "/s" in lines[summary - 6]
    assert any(line.startswith("rillet: checkpoint ") for line in lines)


def test_quiet_prints_no_periodic_lines(folder: Path) -> None:
    (folder / "short.rill").write_text(LIVE.replace("rate=2000", "count=13000, rate=2000"))
    result = rillet("run", "-q", "short.rill", cwd=folder)  # 6.5 s: past the first 5 s line
    assert result.returncode == 0
    assert result.stderr == b""


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("127.0.0.1:http", "--http expects HOST:PORT with a port from 0 to 65535"),
        ("localhost:70000", "--http expects HOST:PORT with a port from 0 to 65535"),
    ],
)
def test_bad_http_address_is_a_usage_error(folder: Path, address: str, message: str) -> None:
    result = rillet("run", "live.rill", "--http", address, cwd=folder)
    assert result.returncode == 2
    assert message in result.stderr.decode()
