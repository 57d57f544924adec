"""A run without `errors into` stops at a bad record: committed output stays as it was, a fresh
run that fails before writing leaves the earlier output in place, and the message says what the
outputs hold and where the next run goes on from."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import rillet

PIPELINE = """source s = file("in.jsonl")
sink o = file("out.jsonl")
s | derive m = n * 2 | into o
"""
GOOD = '{"n": 1}\n{"n": 2}\n'
WRITTEN = '{"n":1,"m":2}\n{"n":2,"m":4}\n'
BAD = '{"n": 3}\n{"n":\n{"n": 5}\n'


def test_resumed_run_stopped_by_a_bad_record_keeps_the_committed_output(tmp_path: Path) -> None:
    (tmp_path / "p.rill").write_text(PIPELINE)
    (tmp_path / "in.jsonl").write_text(GOOD)
    assert rillet("run", "-q", "p.rill", cwd=tmp_path).returncode == 0
    with open(tmp_path / "in.jsonl", "a") as f:
        f.write(BAD)
    stopped = rillet("run", "-q", "p.rill", cwd=tmp_path)
    assert stopped.returncode == 1
    message = stopped.stderr.decode()
    assert "bad record at in.jsonl offset 27" in message
    assert "the outputs hold what checkpoint 1 committed" in message
    assert "Traceback" not in message
    assert (tmp_path / "out.jsonl").read_text() == WRITTEN


def test_fresh_run_stopped_before_writing_leaves_the_earlier_output(tmp_path: Path) -> None:
    (tmp_path / "p.rill").write_text(PIPELINE)
    (tmp_path / "in.jsonl").write_text(GOOD)
    assert rillet("run", "-q", "p.rill", cwd=tmp_path).returncode == 0
    (tmp_path / "in.jsonl").write_text(GOOD + BAD)
    stopped = rillet("run", "-q", "--fresh", "p.rill", cwd=tmp_path)
    assert stopped.returncode == 1
    assert "no checkpoint was saved" in stopped.stderr.decode()
    assert (tmp_path / "out.jsonl").read_text() == WRITTEN
    (tmp_path / "in.jsonl").write_text(GOOD + '{"n": 3}\n')  # fixed: written from the start
    assert rillet("run", "-q", "p.rill", cwd=tmp_path).returncode == 0
    assert (tmp_path / "out.jsonl").read_text() == WRITTEN + '{"n":3,"m":6}\n'
