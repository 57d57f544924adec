"""Incremental checkpoints under SIGKILL: a left join holding seconds of records, checkpointed
every 50 ms as a base and its changes (runtime/segments.py), is killed mid-run several times and
resumed until it finishes, with its checkpoints in a folder and in Redis; its output equals that
of a run never interrupted, and what it saved was segments, not whole snapshots."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.test_crash import SCHEMA, rillet_command, write_data
from tests.servers import REDIS, redis_client

KILLS = 5
PIPELINE = (
    "set batch_size = 200\nset checkpoint_interval = 50ms\n" + SCHEMA + "source clicks: Click = "
    'file("data/clicks.jsonl")\nsource orders = file("data/orders.jsonl")\n'
    'sink out = file("out/out.jsonl")\n'
    "stream timed = clicks | event_time ts lateness 2s\n"
    "orders | event_time ts lateness 2s | left join timed on user within 3s\n"
    "  | select order, user, page, ts | into out\n"
)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("incremental-data")
    write_data(folder)
    return folder / "data"


def kill_and_resume(folder: Path, extra: list[str], newest: Callable[[], object]) -> int:
    """Run to the end, killing the run with SIGKILL a short random while after each of its
    first `KILLS` new checkpoints; the kills done."""
    rng, done = random.Random(18), 0
    command = [*rillet_command("p.rill"), *extra]
    log = folder / "stderr.log"
    while True:
        before = newest()
        with open(log, "wb") as err:
            process = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL, stderr=err)
            if done < KILLS:
                while process.poll() is None and newest() == before:
                    time.sleep(0.005)
                time.sleep(rng.uniform(0, 0.1))
                if process.poll() is None:
                    os.kill(process.pid, signal.SIGKILL)
                    process.wait()
                    done += 1
                    continue
            process.wait(timeout=300)
        assert process.returncode == 0, log.read_text()
        return done


@pytest.mark.timeout(600)
@pytest.mark.parametrize("where", ["folder", "redis"])
def test_incremental_checkpoints_resume_to_the_uninterrupted_output(
    where: str, data: Path, tmp_path: Path
) -> None:
    folders = {}
    for kind in ("reference", "resumed"):
        folder = folders[kind] = tmp_path / kind
        shutil.copytree(data, folder / "data")
        (folder / "p.rill").write_text(PIPELINE)
    done = subprocess.run(rillet_command("p.rill"), cwd=folders["reference"], timeout=300)
    assert done.returncode == 0
    resumed = folders["resumed"]
    if where == "folder":
        state = resumed / ".rillet" / "p"
        extra: list[str] = []

        def newest() -> object:
            return max((p.name for p in state.glob("checkpoint-*.msgpack")), default="")

        def segments() -> list[str]:
            return [p.name for p in (state / "segments").iterdir()]
    else:
        client, group = redis_client(), f"incremental-{uuid.uuid4().hex[:10]}"
        extra = ["--state-store", REDIS.url, "--group", group]
        key = f"rillet:{group}:state"

        def newest() -> object:
            return max(map(int, client.hkeys(key)), default=0)

        def segments() -> list[str]:
            return [name.decode() for name in client.hkeys(f"{key}:segments")]

    assert kill_and_resume(resumed, extra, newest) >= 3
    want = (folders["reference"] / "out" / "out.jsonl").read_bytes()
    got = (resumed / "out" / "out.jsonl").read_bytes()
    assert want
    assert sorted(got.splitlines()) == sorted(want.splitlines())
    assert segments()  # the join's state was kept as segments
