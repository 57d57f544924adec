"""A value read through `env()` never shows: real `rillet` commands run with a known secret in
their environment, and every output is searched for it — `check` (text and JSON), `explain`,
`graph` (three formats), `test`, a `run` with `--http` (its log, /metrics, /api/status, the
dashboard, the `.rillet/` checkpoint files) and the errors of connectors that cannot reach
their server. Where the secret would have been shown, `env("NAME")` is."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import rillet
from tests.runtime.monitor.running import Running, eventually

SECRET = "hunter2-Zq9'x"
NAME = "RILLET_TEST_TOKEN"
SHOWN = f'env("{NAME}")'

PIPELINE = f"""\
param token = env("{NAME}")
set batch_timeout = 100ms
set checkpoint_interval = 500ms
source clicks  = generate(rate=2000)
sink   pages   = file("out/pages.jsonl")
sink   rejects = file("out/rejects.jsonl")
errors into rejects
clicks
  | where page != token
  | derive mine = if referrer == token then 1 else 0
  | window tumbling 1s
  | aggregate by page {{ n = count(), mine = sum(mine) }}
  | into pages

test "shows its records" {{
  given clicks = [{{page: "/home", status: 200}}]
  expect pages = [{{page: token}}]
}}
"""


def leaks(text: str | bytes) -> list[str]:
    """The forms of the secret found in `text`: as it is, JSON-escaped, percent-encoded."""
    data = text.encode() if isinstance(text, str) else text
    forms = {SECRET, json.dumps(SECRET)[1:-1], quote(SECRET, safe=""), "hunter2"}
    return [form for form in forms if form.encode() in data]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(NAME, SECRET)  # the environment of every rillet the test starts
    (tmp_path / "secret.rill").write_text(PIPELINE)
    return tmp_path


def test_explain_and_graph_show_the_call_not_the_value(folder: Path) -> None:
    outputs = {}
    for args in (
        ("explain",),
        ("graph",),
        ("graph", "--format", "mermaid"),
        ("graph", "--format", "dot"),
    ):
        done = rillet(*args, "secret.rill", cwd=folder)
        assert done.returncode == 0, done.stderr.decode()
        assert leaks(done.stdout + done.stderr) == []
        outputs[args] = done.stdout.decode()
    assert f"where page != {SHOWN}" in outputs[("graph",)]
    explained = outputs[("explain",)]
    assert f"#1 where page != {SHOWN}" in explained
    assert f"r0.get('page') != {SHOWN}" in explained  # the generated code, too
    assert SHOWN.replace('"', '\\"') in outputs[("graph", "--format", "dot")]


def test_check_passes_and_its_diagnostics_show_the_call(folder: Path) -> None:
    done = rillet("check", "secret.rill", cwd=folder)
    assert done.returncode == 0 and leaks(done.stdout + done.stderr) == []
    (folder / "bad.rill").write_text(
        PIPELINE.replace(
            'file("out/rejects.jsonl")', f'file("out/rejects.jsonl", format=env("{NAME}"))'
        )
    )
    for extra in ((), ("--format", "json")):
        done = rillet("check", "bad.rill", *extra, cwd=folder)
        assert done.returncode == 2
        assert leaks(done.stdout + done.stderr) == []
        assert "invalid argument `format` for `file`" in (done.stdout + done.stderr).decode()
    assert json.loads(done.stdout)["diagnostics"][0]["label"].endswith(f"found {SHOWN}")


def test_a_missing_variable_is_a_diagnostic_at_the_call(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(NAME)
    for command in ("check", "run", "explain", "graph"):
        done = rillet(command, "secret.rill", cwd=folder)
        assert done.returncode == 2, command
        stderr = done.stderr.decode()
        assert f"error: environment variable `{NAME}` is not set" in stderr
        assert " --> secret.rill:1:15" in stderr and "^^^^^^^^^^^^^^^^^^^^^^^^" in stderr
        assert "Traceback" not in stderr


def test_test_output_masks_the_records_it_prints(folder: Path) -> None:
    done = rillet("test", "secret.rill", cwd=folder)
    assert done.returncode == 1
    out = done.stdout.decode()
    assert f'"page":{SHOWN}' in out and leaks(done.stdout + done.stderr) == []


def test_a_run_with_http_shows_it_nowhere(folder: Path) -> None:
    with Running(folder, "secret.rill", "--http", "127.0.0.1:0") as run:
        pages_file = folder / "out" / "pages.jsonl"  # a window fired and was checkpointed
        eventually(
            lambda: (
                run.json("/api/status")["checkpoints"]["completed"] >= 2
                and pages_file.exists()
                and pages_file.stat().st_size > 0
            ),
            "two checkpoints and a window written",
        )
        pages = {path: run.get(path) for path in ("/", "/metrics", "/api/status", "/healthz")}
        assert run.stop() == 130
    for path, (status, body) in pages.items():
        assert status == 200 and leaks(body) == [], path
    assert leaks("\n".join(run.lines)) == []
    state = [p for p in (folder / ".rillet").rglob("*") if p.is_file()]
    assert state, "the run took no checkpoint"
    for path in state:
        assert leaks(path.read_bytes()) == [], path
    # and the run did its work
    assert (folder / "out" / "pages.jsonl").stat().st_size > 0


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize(
    "sink, url",
    [
        ('redis_stream(url=env("{}"), stream="s")', "redis://bob:{}@127.0.0.1:1/0"),
        ('nats(url=env("{}"), subject="s")', "nats://bob:{}@127.0.0.1:1"),
        ('postgres(env("{}"), "t")', "postgresql://bob:{}@127.0.0.1:1/db"),
    ],
)
def test_a_connector_error_does_not_quote_the_secret_url(
    folder: Path, monkeypatch: pytest.MonkeyPatch, sink: str, url: str, log_format: str
) -> None:
    """Port 1 refuses the connection at once: the error names the server's URL."""
    monkeypatch.setenv("RILLET_TEST_URL", url.format(SECRET))
    (folder / "db.rill").write_text(
        f"source clicks = generate(count=5)\n"
        f"sink out = {sink.format('RILLET_TEST_URL')}\n"
        "clicks | into out\n"
    )
    done = rillet("run", "db.rill", "--log-format", log_format, cwd=folder)
    stderr = done.stderr.decode()
    assert done.returncode == 1, stderr
    assert "rillet: error: sink `out`: cannot connect to" in stderr
    assert leaks(stderr) == [] and "Traceback" not in stderr
