"""`rillet run --http` under strain and in the open: the address it serves is always printed,
bursts of scrapes are all answered, clients that hang up early or send nothing leave no
traceback and no thread behind, requests for a foreign `Host` are refused, and with a token
only requests that carry it are answered. Counts of failures, never timings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.monitor.running import Running

ENDLESS = """\
set batch_timeout = 100ms
source clicks = generate(rate=2000)
sink   out    = file("out/out.jsonl")
clicks | where status == 200 | into out
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "endless.rill").write_text(ENDLESS)
    return tmp_path


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_quiet_still_prints_the_address_served(folder: Path, log_format: str) -> None:
    with Running(folder, "-q", "endless.rill", "--http", ":0", "--log-format",
                 log_format) as run:
        assert run.get("/healthz")[0] == 200
        assert run.stop() == 130
    served = [line for line in run.lines if "serving http://127.0.0.1:" in line]
    assert len(served) == 1
    if log_format == "json":
        record = json.loads(served[0])
        assert record["level"] == "info" and record["fields"]["url"] == run.url
    else:
        assert served[0] == f"rillet: serving {run.url}"
