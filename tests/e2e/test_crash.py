"""The crash harness: the real `rillet` command is killed with SIGKILL at random moments, several
times per run, and restarted until it finishes; its outputs must equal those of a run that was
never interrupted (byte for byte where order is defined, as multisets where it is not)."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rillet.stdlib.generate import START_MS, click_events

KILLS_PER_PIPELINE = 7
SETTINGS = "set batch_size = 200\nset checkpoint_interval = 50ms\n"

SCHEMA = """schema Click {
  ts: int
  user: int
  page: str
  status: int
  latency_ms: float
}
"""

PIPELINES = {
    "stateless": (  # three times the clicks of the others: it reads them the fastest
        SETTINGS + SCHEMA + 'source clicks: Click = file("data/clicks*.jsonl")\n'
        'sink out = file("out/out.jsonl")\n'
        "clicks | where status == 200 | select user, page, slow = latency_ms > 250\n"
        "  | into out\n",
        {"out.jsonl": "bytes"},
    ),
    "windowed": (
        SETTINGS + SCHEMA + 'source clicks: Click = file("data/clicks.jsonl")\n'
        'sink out = file("out/out.jsonl")\n'
        "clicks | event_time ts lateness 2s | window tumbling 1s\n"
        "  | aggregate by page { n = count(), total = sum(latency_ms) } | into out\n",
        {"out.jsonl": "bytes"},
    ),
    "join": (
        SETTINGS + SCHEMA + 'source clicks: Click = file("data/clicks.jsonl")\n'
        'source orders = file("data/orders.jsonl")\n'
        'sink out = file("out/out.jsonl")\n'
        'stream timed = clicks | event_time ts lateness 2s | where page == "/checkout"\n'
        "orders | event_time ts lateness 2s | join timed on user within 500ms\n"
        "  | select order, user, page | into out\n",
        {"out.jsonl": "lines"},
    ),
    "left_join": (  # most orders find no checkout: written alone, from state saved and restored
        SETTINGS + SCHEMA + 'source clicks: Click = file("data/clicks.jsonl")\n'
        'source orders = file("data/orders.jsonl")\n'
        'sink out = file("out/out.jsonl")\n'
        'stream timed = clicks | event_time ts lateness 2s | where page == "/checkout"\n'
        "orders | event_time ts lateness 2s | left join timed on user within 500ms\n"
        "  | select order, user, page | into out\n",
        {"out.jsonl": "lines"},
    ),
    "rolling": (
        SETTINGS + SCHEMA + 'source clicks: Click = file("data/clicks.jsonl")\n'
        'sink out = file("out/out.jsonl")\n'
        "clicks | event_time ts lateness 2s\n"
        "  | rolling 20ms by page { n = count(), total = sum(latency_ms) }\n"
        "  | rolling last 3 by user { pages = count_distinct(page) } | into out\n",
        {"out.jsonl": "bytes"},  # in event-time order, ties in arrival order
    ),
    "top": (
        SETTINGS + SCHEMA + 'source clicks: Click = file("data/clicks.jsonl")\n'
        'sink out = file("out/out.jsonl")\n'
        "clicks | event_time ts lateness 2s | window sliding 2s every 1s\n"
        "  | top 3 by latency_ms desc, status asc per page | into out\n",
        {"out.jsonl": "bytes"},  # windows in end order, keys as first seen, then by rank
    ),
    "errors": (
        SETTINGS + SCHEMA + 'source clicks: Click = file("data/dirty.jsonl")\n'
        'sink out = file("out/out.csv", format="csv")\n'
        'sink rejects = file("out/rejects.jsonl")\n'
        "errors into rejects\n"
        "clicks | derive ratio = 1000 / (status - 200) | select user, ratio | into out\n",
        {"out.csv": "bytes", "rejects.jsonl": "lines"},
    ),  # two producers interleave
}


def write_data(folder: Path) -> None:
    data = folder / "data"
    data.mkdir(parents=True)
    events = click_events(random.Random(1), 0, 400_000, START_MS, 1.0)
    lines = [json.dumps(e) for e in events]
    (data / "clicks.jsonl").write_text("\n".join(lines) + "\n")
    more = click_events(random.Random(2), 0, 800_000, START_MS, 1.0)  # for the fastest pipeline
    (data / "clicks-more.jsonl").write_text("".join(json.dumps(e) + "\n" for e in more))
    orders = [
        {"ts": e["ts"] + 100, "user": e["user"], "order": i} for i, e in enumerate(events[::100])
    ]
    (data / "orders.jsonl").write_text("".join(json.dumps(o) + "\n" for o in orders))
    dirty = list(lines[:200_000])
    for at in range(5, len(dirty), 4999):
        dirty[at] = dirty[at][: len(dirty[at]) // 2]  # a torn line: malformed JSON
    (data / "dirty.jsonl").write_text("\n".join(dirty) + "\n")


def rillet_command(pipeline: str) -> list[str]:
    return [sys.executable, "-m", "rillet.dsl.cli", "run", "--quiet", pipeline]


def run_to_completion(folder: Path) -> None:
    result = subprocess.run(rillet_command("p.rill"), cwd=folder, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()


def newest_checkpoint(folder: Path) -> str:
    return max(
        (p.name for p in (folder / ".rillet" / "p").glob("checkpoint-*.msgpack")), default=""
    )


def run_with_kills(
    folder: Path, rng: random.Random, kills: int, after_kill: Callable[[], None] = lambda: None
) -> int:
    """Start; once the run has saved a checkpoint of its own, SIGKILL it after a short random
    delay, run `after_kill` (a check of what the dead run left), restart; once `kills` are
    done, let it finish. Waiting for a checkpoint makes every kill land mid-run, while records
    are read, written and checkpointed, however fast the machine is."""
    done = 0
    log = folder / "stderr.log"
    while True:
        with open(log, "wb") as err:
            before = newest_checkpoint(folder)
            process = subprocess.Popen(
                rillet_command("p.rill"), cwd=folder, stdout=subprocess.DEVNULL, stderr=err
            )
            if done < kills:
                while process.poll() is None and newest_checkpoint(folder) == before:
                    time.sleep(0.005)
                time.sleep(rng.uniform(0, 0.05))
                if process.poll() is None:
                    os.kill(process.pid, signal.SIGKILL)
                    process.wait()
                    done += 1
                    after_kill()
                    continue
            process.wait(timeout=120)
        assert process.returncode == 0, log.read_text()
        return done


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("crash-data")
    write_data(folder)
    return folder / "data"


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", list(PIPELINES))
def test_killed_runs_resume_to_the_uninterrupted_output(
    name: str, data: Path, tmp_path: Path
) -> None:
    text, outputs = PIPELINES[name]
    folders = {}
    for kind in ("reference", "crashed"):
        folder = folders[kind] = tmp_path / kind
        folder.mkdir()
        shutil.copytree(data, folder / "data")
        (folder / "p.rill").write_text(text)
    run_to_completion(folders["reference"])
    kills = run_with_kills(folders["crashed"], random.Random(name), KILLS_PER_PIPELINE)
    assert kills >= 5  # 6 pipelines: at least 30 kills; a run may finish before its last kills
    for output, how in outputs.items():
        want = (folders["reference"] / "out" / output).read_bytes()
        got = (folders["crashed"] / "out" / output).read_bytes()
        assert want, f"{output} of the reference run is empty"
        if how == "bytes":
            assert got == want, output
        else:
            assert sorted(got.splitlines()) == sorted(want.splitlines()), output
