"""The language's example pipelines (the declarations, flows, test block and diagnostic the
language was specified with), held verbatim here, parse and check (with the files and plugins
they name present), and the stateless ones run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rillet.dsl.parser import parse
from tests.conftest import compile_pipeline, rillet

FIXTURES = Path(__file__).parent / "fixtures" / "language"

DECLARATIONS = """\
param threshold = 250                  # override: rillet run f.rill -p threshold=300
set batch_size = 5000                  # records per micro-batch (default chosen by the runtime)
set batch_timeout = 200ms              # a partial batch is flushed after this long
set checkpoint_interval = 10s          # how often state and offsets are made durable

use "plugins/geo.py"                   # a local plugin module, path relative to this file
use acme_rillet                        # an installed plugin package

schema Click {
  ts: int
  user: int
  page: str
  status: int
  latency_ms: float
  referrer: str?                       # optional: may be missing or null
}

source clicks: Click = file("data/clicks.jsonl", format="jsonl")
source orders = file("data/orders.csv", format="csv")
table  users  = file("data/users.csv", format="csv", key="user")   # lookup table, loaded and kept
sink   report = file("out/report.jsonl")
sink   alerts = stdout()
sink   rejects = file("out/rejects.jsonl")

errors into rejects                    # records that fail to parse, validate or evaluate go here
"""

FLOWS = """\
stream ok = clicks
  | event_time ts lateness 2s          # ts: epoch milliseconds (int) or an ISO-8601 string
  | where status == 200
  | derive slow = latency_ms > threshold

ok
  | window tumbling 10s
  | aggregate by page {
      n      = count(),
      avg_ms = avg(latency_ms),
      p95_ms = quantile(latency_ms, 0.95),
      slow   = count_if(slow),
    }
  | into report

ok | where slow and page =~ "^/checkout" | select user, page, latency_ms | into alerts
"""

TEST_BLOCK = """\
test "slow checkout clicks raise an alert" {
  given clicks = [
    {ts: 0, user: 1, page: "/checkout", status: 200, latency_ms: 900.0},
    {ts: 5, user: 2, page: "/home",     status: 200, latency_ms: 10.0},
  ]
  expect alerts = [{user: 1, page: "/checkout", latency_ms: 900.0}]
}
"""

DIAGNOSTIC = """\
error: unknown field `latncy_ms` in `where`
  --> clicks.rill:14:11
   |
14 |   | where latncy_ms > 100
   |           ^^^^^^^^^ did you mean `latency_ms`? (schema Click)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(FIXTURES, tmp_path, dirs_exist_ok=True)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return tmp_path


@pytest.mark.parametrize(
    "snippet", [DECLARATIONS, FLOWS, TEST_BLOCK], ids=["declarations", "flows", "test-block"]
)
def test_snippet_parses_alone(snippet: str) -> None:
    program, diagnostics = parse(snippet)
    assert diagnostics == []
    assert program is not None and program.statements


@pytest.mark.parametrize(
    "parts",
    [(DECLARATIONS,), (DECLARATIONS, FLOWS), (DECLARATIONS, FLOWS, TEST_BLOCK)],
    ids=["declarations", "with-flows", "with-test"],
)
def test_snippets_check_without_errors(project: Path, parts: tuple[str, ...]) -> None:
    compiled = compile_pipeline("\n".join(parts), project)
    errors = [d for d in compiled.diagnostics if d.severity == "error"]
    assert errors == []
    assert compiled.plan is not None
    lints = [d.code for d in compiled.diagnostics if d.code.startswith("W1")]
    assert lints == [], "a lint in the language's snippets: fix it or silence it with a reason"


def test_declarations_snippet_runs(project: Path) -> None:
    (project / "decl.rill").write_text(DECLARATIONS)
    result = rillet("run", "decl.rill", cwd=project, pythonpath=project / "site")
    assert result.returncode == 0, result.stderr.decode()
    assert b"nothing to run" in result.stderr


def test_misspelled_field_prints_the_guide_diagnostic(tmp_path: Path) -> None:
    pipeline = "\n".join(
        [
            "# Slow clicks, from the language guide's diagnostics example.",
            "",
            "schema Click {",
            "  ts: int",
            "  user: int",
            "  page: str",
            "  status: int",
            "  latency_ms: float",
            "}",
            "",
            'source clicks: Click = file("clicks.jsonl")',
            "sink slow = stdout()",
            "clicks",
            "  | where latncy_ms > 100",
            "  | into slow",
            "",
        ]
    )
    (tmp_path / "clicks.rill").write_text(pipeline)
    (tmp_path / "clicks.jsonl").write_text("")  # `rillet check` looks for the input too
    result = rillet("check", "clicks.rill", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.decode() == DIAGNOSTIC
    assert b"Traceback" not in result.stderr


def test_declarations_and_flows_run_as_written(project: Path) -> None:
    (project / "guide.rill").write_text(DECLARATIONS + "\n" + FLOWS)
    result = rillet("run", "guide.rill", cwd=project, pythonpath=project / "site")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b'{"user":1,"page":"/checkout","latency_ms":900.0}\n'
    report = (project / "out" / "report.jsonl").read_text().splitlines()
    assert report == [
        '{"window_start":0,"window_end":10000,"page":"/checkout","n":1,"avg_ms":900.0,'
        '"p95_ms":900.0,"slow":1}',
        '{"window_start":0,"window_end":10000,"page":"/home","n":1,"avg_ms":10.0,'
        '"p95_ms":10.0,"slow":0}',
    ]


def test_test_block_passes_with_rillet_test(project: Path) -> None:
    (project / "guide.rill").write_text(DECLARATIONS + "\n" + FLOWS + "\n" + TEST_BLOCK)
    result = rillet("test", "guide.rill", cwd=project, pythonpath=project / "site")
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert result.stdout.decode().splitlines() == [
        'test "slow checkout clicks raise an alert" ... ok',
        "1 passed, 0 failed",
    ]
