"""`rillet graph` and `rillet explain` through the real command: output, params, exit codes."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import REPO, rillet


def test_graph_mermaid_draws_quickstart_with_its_error_edges() -> None:
    result = rillet(
        "graph",
        "--format",
        "mermaid",
        "quickstart.rill",
        "-p",
        "threshold=400",
        cwd=REPO / "examples",
    )
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    assert out.startswith("flowchart LR\n")
    assert 'n1["where status == 200"]' in out
    assert "latency_ms #gt; 400" in out
    assert "n0 -.->|errors| n9" in out


def test_explain_shows_fused_code_and_delivery_for_windows() -> None:
    result = rillet("explain", "windows.rill", cwd=REPO / "examples")
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    assert "#3 operator aggregate@42" in out
    assert "state: keyed by `page` and window (tumbling 10s)" in out
    assert "def _stage(records, offsets, on_error):" in out
    assert "clicks → late (late)" in out and "exactly-once" in out


def test_graph_of_a_broken_file_exits_2_with_diagnostics(tmp_path: Path) -> None:
    (tmp_path / "bad.rill").write_text("nowhere | into out\n")
    for command in ("graph", "explain"):
        result = rillet(command, "bad.rill", cwd=tmp_path)
        assert result.returncode == 2
        assert b"unknown source or stream `nowhere`" in result.stderr and result.stdout == b""
