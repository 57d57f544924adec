"""The state folder through the `rillet` command: one that cannot be used (a file, read-only) is
one line and exit code 2 before any output is touched; a second run of a pipeline is refused
while the first holds its folder (also per worker); a lock left by a killed run is taken over."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rillet.runtime.checkpoint import FileCheckpointStore
from tests.conftest import rillet
from tests.servers import REDIS, redis_client

PIPELINE = 'source s = file("in.jsonl")\nsink o = file("out/o.jsonl")\ns | into o\n'
GENERATED = (
    "set checkpoint_interval = 50ms\n"
    "source clicks = generate(count={count}, rate=2000, start_ms=0)\n"
    'sink out = file("out/o.jsonl")\nclicks | select ts, user, page | into out\n'
)
HOST = socket.gethostname()


def _folder_with_output(folder: Path) -> Path:
    """A pipeline whose output already holds an earlier run's line, which must stay."""
    (folder / "in.jsonl").write_text('{"n": 1}\n')
    (folder / "p.rill").write_text(PIPELINE)
    (folder / "out").mkdir()
    (folder / "out" / "o.jsonl").write_text("earlier\n")
    return folder


@pytest.mark.parametrize(
    ("state_dir", "blocking"), [("taken", "taken"), ("taken/state", "taken"), (None, ".rillet")]
)
def test_state_folder_that_is_a_file_stops_before_any_output(
    tmp_path: Path, state_dir: str | None, blocking: str
) -> None:
    folder = _folder_with_output(tmp_path)
    (folder / blocking).write_text("not a folder\n")
    args = ["--state-dir", state_dir] if state_dir else []
    result = rillet("run", *args, "p.rill", cwd=folder)
    assert result.returncode == 2
    assert result.stderr.decode() == (
        f"rillet: error: cannot keep checkpoints in {state_dir or '.rillet/p'}: {blocking} is a "
        "file, not a folder (--state-dir DIR chooses another folder)\n"
    )
    assert (folder / "out" / "o.jsonl").read_text() == "earlier\n"


PR_CAPBSET_DROP, CAP_DAC_OVERRIDE = 24, 1  # <linux/prctl.h>, <linux/capability.h>


def _without_dac_override() -> None:
    """In the child, before it starts: drop the capability that lets root write anywhere, so
    that a read-only folder is read-only to it too."""
    if ctypes.CDLL(None, use_errno=True).prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0):
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.mark.parametrize("state_dir", ["state", None])
def test_read_only_state_folder_stops_before_any_output(
    tmp_path: Path, state_dir: str | None
) -> None:
    folder = _folder_with_output(tmp_path)
    read_only = folder / ("state" if state_dir else ".rillet")
    read_only.mkdir()
    read_only.chmod(0o555)
    args = ["--state-dir", state_dir] if state_dir else []
    result = subprocess.run(
        [sys.executable, "-m", "rillet.dsl.cli", "run", *args, "p.rill"],
        cwd=folder,
        capture_output=True,
        timeout=60,
        preexec_fn=_without_dac_override if os.geteuid() == 0 else None,
    )
    assert result.returncode == 2
    assert result.stderr.decode() == (
        f"rillet: error: cannot keep checkpoints in {state_dir or '.rillet/p'}: Permission "
        "denied (--state-dir DIR chooses another folder)\n"
    )
    assert (folder / "out" / "o.jsonl").read_text() == "earlier\n"


def _holder(lock: Path, other_than: int | None = None) -> int:
    """The pid written in `lock` once a process (other than `other_than`) holds it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError, ValueError):  # not there, or being written
            holder = json.loads(lock.read_bytes())
            assert holder["host"] == HOST
            if holder["pid"] != other_than:
                return holder["pid"]
        time.sleep(0.02)
    raise AssertionError(f"nothing holds {lock}")


@pytest.fixture
def start() -> Iterator[Callable[..., subprocess.Popen]]:
    """start(folder, *args) runs `rillet run *args p.rill` in the background; a run the test
    left going (it failed) is stopped, its workers with it."""
    started: list[subprocess.Popen] = []

    def _start(folder: Path, *args: str) -> subprocess.Popen:
        started.append(
            subprocess.Popen(
                [sys.executable, "-m", "rillet.dsl.cli", "run", *args, "p.rill"],
                cwd=folder,
                stderr=subprocess.PIPE,
            )
        )
        return started[-1]

    yield _start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=60)


def test_second_run_of_a_pipeline_is_refused_while_the_first_runs(
    tmp_path: Path, start: Callable[..., subprocess.Popen]
) -> None:
    (tmp_path / "p.rill").write_text(GENERATED.format(count=4000))
    first = start(tmp_path, "-q")
    assert _holder(tmp_path / ".rillet" / "p" / "run.lock") == first.pid
    second = rillet("run", "--fresh", "p.rill", cwd=tmp_path)
    assert second.returncode == 2
    assert second.stderr.decode() == (
        f"rillet: error: .rillet/p is in use by another run (pid {first.pid} on {HOST}); wait "
        "for it to end or stop it, or give this run its own --state-dir\n"
    )
    _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err.decode()
    lines = (tmp_path / "out" / "o.jsonl").read_text().splitlines()
    assert len(lines) == 4000 and all(json.loads(line)["page"] for line in lines)
    assert (tmp_path / ".rillet" / "p" / "run.lock").read_bytes() == b""  # released


def test_lock_left_by_a_killed_run_is_taken_over_with_a_warning(
    tmp_path: Path, start: Callable[..., subprocess.Popen]
) -> None:
    pipeline = GENERATED.format(count=4000)
    for name in ("reference", "killed"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "p.rill").write_text(pipeline)
    assert rillet("run", "-q", "p.rill", cwd=tmp_path / "reference").returncode == 0
    killed = start(tmp_path / "killed")
    state = tmp_path / "killed" / ".rillet" / "p"
    assert _holder(state / "run.lock") == killed.pid
    deadline = time.monotonic() + 30
    while not list(state.glob("checkpoint-*.msgpack")) and time.monotonic() < deadline:
        time.sleep(0.02)
    killed.kill()
    killed.communicate(timeout=60)
    resumed = rillet("run", "-q", "p.rill", cwd=tmp_path / "killed")
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert resumed.stderr.decode() == (
        f"rillet: warning: a run (pid {killed.pid} on {HOST}) ended without releasing "
        ".rillet/p (killed?); taking it over\n"
    )
    output = (tmp_path / "killed" / "out" / "o.jsonl").read_bytes()
    assert output == (tmp_path / "reference" / "out" / "o.jsonl").read_bytes()


def test_workers_hold_each_their_own_folder(
    tmp_path: Path, start: Callable[..., subprocess.Popen]
) -> None:
    client = redis_client()
    stream, group = f"clicks-{uuid.uuid4().hex}", f"g-{uuid.uuid4().hex}"
    (tmp_path / "p.rill").write_text(
        f'source clicks = redis_stream("{REDIS.url}", "{stream}", group="g")\n'
        'sink out = file("out/out.jsonl")\nclicks | into out\n'
    )
    workers = ("--workers", "2", "--broker", REDIS.url, "--group", group)
    state = tmp_path / ".rillet" / "p"
    try:
        with FileCheckpointStore(state / "worker-1").hold():  # as another run would
            refused = rillet("run", *workers, "p.rill", cwd=tmp_path)
        assert refused.returncode == 2
        assert refused.stderr.decode() == (
            f"rillet: error: .rillet/p/worker-1 is in use by another run (pid {os.getpid()} on "
            f"{HOST}); wait for it to end or stop it, or give this run its own --state-dir\n"
        )
        first = start(tmp_path, *workers)
        # the supervisor holds them while it checks them, then each worker process its own
        holders = [_holder(state / f"worker-{i}" / "run.lock", first.pid) for i in (0, 1)]
        assert len(set(holders)) == 2
        second = rillet("run", *workers, "--fresh", "p.rill", cwd=tmp_path)
        assert second.returncode == 2
        assert (
            f".rillet/p/worker-0 is in use by another run (pid {holders[0]} on {HOST})"
            in second.stderr.decode()
        )
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=60)
        assert first.returncode == 143, err.decode()
    finally:
        client.delete(stream, *client.keys(f"rillet:{group}:*"))
        shutil.rmtree(state, ignore_errors=True)
