"""Stop signals obeyed within seconds while a stage is busy (dsl/stopping.py), through a real
`rillet run` whose plugin function sleeps for minutes on one record: the first SIGTERM ends the
run within the grace period with code 143, a second signal ends it at once, and the next run
goes on from the last complete checkpoint to the output of a run never stopped. The bounds are
generous: they guard against minutes, not a few seconds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rillet.dsl.stopping import GRACE_S
from tests.conftest import rillet

SLOW = '''
import time
from pathlib import Path

from rillet.runtime.plugin import Plugin

plugin = Plugin("slow")
HERE = Path(__file__).parent


@plugin.function("slow")
def slow(n: int) -> int:
    """While the file `slow` exists, each record takes 10 ms (so checkpoints complete between
    batches) and record 80 five minutes: a checkpoint completes in about four batches."""
    if (HERE / "slow").exists():
        time.sleep(0.01)
        if n == 80:
            (HERE / "started").touch()
            time.sleep(300)
    return n
'''

PIPELINE = """set batch_size = 10
set channel_capacity = 1
set checkpoint_interval = 10ms
use "slow.py"
source s = file("in.jsonl")
sink o = file("out/o.jsonl")
s | derive m = slow(n) | into o
"""

BOUND_S = GRACE_S + 5


def _start(tmp_path: Path) -> subprocess.Popen:
    (tmp_path / "slow.py").write_text(SLOW)
    (tmp_path / "p.rill").write_text(PIPELINE)
    (tmp_path / "in.jsonl").write_text("".join(f'{{"n": {n}}}\n' for n in range(100)))
    (tmp_path / "slow").touch()
    process = subprocess.Popen(
        [sys.executable, "-m", "rillet.dsl.cli", "run", "p.rill"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 30
    while not (tmp_path / "started").exists():
        assert process.poll() is None, process.communicate()[1].decode()
        assert time.monotonic() < deadline, "the slow record was never reached"
        time.sleep(0.05)
    return process


def _stopped(process: subprocess.Popen) -> bytes:
    try:
        _, err = process.communicate(timeout=BOUND_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError(f"still running {BOUND_S} s after the signal") from None
    assert b"Traceback" not in err, err.decode()
    return err


def _resumes_to_the_whole_output(tmp_path: Path) -> None:
    (tmp_path / "slow").unlink()
    resumed = rillet("run", "p.rill", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert b"rillet: resumed from checkpoint" in resumed.stderr
    rows = [json.loads(line) for line in (tmp_path / "out" / "o.jsonl").read_text().splitlines()]
    assert rows == [{"n": n, "m": n} for n in range(100)]


def test_sigterm_ends_a_run_stuck_in_a_stage_within_seconds(tmp_path: Path) -> None:
    process = _start(tmp_path)
    process.send_signal(signal.SIGTERM)
    err = _stopped(process)
    assert process.returncode == 143, err.decode()
    assert b"rillet: stopping after a last checkpoint (again to stop at once)" in err
    assert f"still busy {GRACE_S:g} s after the signal".encode() in err
    assert b"the next run resumes from checkpoint" in err
    _resumes_to_the_whole_output(tmp_path)


def test_a_second_signal_ends_a_busy_run_at_once(tmp_path: Path) -> None:
    process = _start(tmp_path)
    process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    err = _stopped(process)
    assert process.returncode == 130, err.decode()  # the code of the signal that ended it
    assert b"rillet: stopping now, without a last checkpoint" in err
    assert b"still busy" not in err
    _resumes_to_the_whole_output(tmp_path)
