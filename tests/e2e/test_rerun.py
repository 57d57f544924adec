"""A rerun of a finished pipeline over input that has grown since: it gives what one run over
the whole input gives (the new records are on time relative to what came before), because it
goes on from the checkpoint taken before the end of input fired its windows, and the file sink
cuts back to before that firing. A rerun over input that has not grown does nothing, saves no
checkpoint and leaves the output as it was."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import rillet

HEAD = """set checkpoint_interval = 20ms
source clicks = file("clicks.jsonl")
source orders = file("orders.jsonl")
sink out = file("out/out.jsonl")
sink late = file("out/late.jsonl")
"""

FLOWS = {
    "tumbling": "clicks | event_time ts | window tumbling 10s"
    " | aggregate by page { n = count(), users = count_distinct(user) }"
    " | late into late | into out",
    "sliding": "clicks | event_time ts | window sliding 20s every 5s"
    " | aggregate by page { n = count() } | late into late | into out",
    "session": "clicks | event_time ts | window session gap 4s"
    " | aggregate by user { n = count(), first = min(ts) } | late into late"
    " | into out",
    "join": "stream timed = clicks | event_time ts\n"
    "orders | event_time ts | join timed on user within 10s"
    " | select order_id, user, page, ts, timed_ts | into out",
    "dedupe": "orders | event_time ts | dedupe by order_id within 30s | into out",
}


def events(count: int, rng: random.Random) -> tuple[list[str], list[str]]:
    """Clicks and orders in event-time order, with gaps for sessions and repeated order ids."""
    clicks, orders = [], []
    ts = 0
    for i in range(count):
        ts += rng.choice([100, 300, 900, 5000])
        clicks.append(json.dumps({"ts": ts, "user": i % 5, "page": f"p{i % 3}"}))
        if i % 4 == 0:
            order_id = f"o{(i // 4) - (i % 8 == 0)}"  # every other order id comes twice
            orders.append(json.dumps({"ts": ts + 50, "user": i % 5, "order_id": order_id}))
    return clicks, orders


def write(folder: Path, name: str, lines: list[str], mode: str = "w") -> None:
    with open(folder / name, mode) as f:
        f.writelines(line + "\n" for line in lines)


def output(folder: Path) -> list[str]:
    path = folder / "out" / "out.jsonl"
    return sorted(path.read_text().splitlines())


@pytest.mark.parametrize("flow", sorted(FLOWS))
def test_rerun_over_appended_input_equals_one_run_over_all_of_it(tmp_path: Path, flow: str) -> None:
    clicks, orders = events(700, random.Random(flow))
    first_clicks, more_clicks = clicks[:400], clicks[400:]
    first_orders, more_orders = orders[:100], orders[100:]
    pipeline = HEAD + FLOWS[flow] + "\n"
    rerun, once = tmp_path / "rerun", tmp_path / "once"
    for folder in (rerun, once):
        folder.mkdir()
        (folder / "p.rill").write_text(pipeline)
    write(rerun, "clicks.jsonl", first_clicks)
    write(rerun, "orders.jsonl", first_orders)
    first = rillet("run", "-q", "p.rill", cwd=rerun)
    assert first.returncode == 0, first.stderr.decode()
    write(rerun, "clicks.jsonl", more_clicks, "a")
    write(rerun, "orders.jsonl", more_orders, "a")
    second = rillet("run", "-q", "p.rill", cwd=rerun)
    assert second.returncode == 0, second.stderr.decode()
    write(once, "clicks.jsonl", clicks)
    write(once, "orders.jsonl", orders)
    whole = rillet("run", "-q", "p.rill", cwd=once)
    assert whole.returncode == 0, whole.stderr.decode()
    assert output(rerun) == output(once)
    assert len(output(once)) > 10
    late = rerun / "out" / "late.jsonl"
    assert not late.exists() or not late.read_text()  # nothing new counted as late


def test_rerun_over_unchanged_input_does_nothing_and_saves_no_checkpoint(tmp_path: Path) -> None:
    clicks, orders = events(300, random.Random(1))
    write(tmp_path, "clicks.jsonl", clicks)
    write(tmp_path, "orders.jsonl", orders)
    (tmp_path / "p.rill").write_text(HEAD + FLOWS["tumbling"] + "\n")
    assert rillet("run", "-q", "p.rill", cwd=tmp_path).returncode == 0
    written = (tmp_path / "out" / "out.jsonl").read_bytes()
    saved = sorted(p.name for p in (tmp_path / ".rillet" / "p").iterdir())
    again = rillet("run", "p.rill", cwd=tmp_path)
    assert again.returncode == 0
    assert b"nothing left to do" in again.stderr
    assert sorted(p.name for p in (tmp_path / ".rillet" / "p").iterdir()) == saved
    assert (tmp_path / "out" / "out.jsonl").read_bytes() == written


def rows(database: Path, table: str) -> list[tuple]:
    with sqlite3.connect(database) as conn:
        return sorted(conn.execute(f"SELECT * FROM {table}").fetchall())


def test_rerun_upserts_the_windows_fired_again_into_a_keyed_table(tmp_path: Path) -> None:
    clicks, _ = events(700, random.Random(3))
    pipeline = (
        'set checkpoint_interval = 20ms\nsource clicks = file("clicks.jsonl")\n'
        'sink per_window = sqlite("out.sqlite", "per_window", key="window_start")\n'
        "clicks | event_time ts | window tumbling 10s"
        " | aggregate { n = count() } | into per_window\n"
    )
    rerun, once = tmp_path / "rerun", tmp_path / "once"
    for folder in (rerun, once):
        folder.mkdir()
        (folder / "p.rill").write_text(pipeline)
    write(rerun, "clicks.jsonl", clicks[:400])
    assert rillet("run", "-q", "p.rill", cwd=rerun).returncode == 0
    write(rerun, "clicks.jsonl", clicks[400:], "a")
    again = rillet("run", "-q", "p.rill", cwd=rerun)
    assert again.returncode == 0, again.stderr.decode()
    write(once, "clicks.jsonl", clicks)
    assert rillet("run", "-q", "p.rill", cwd=once).returncode == 0
    assert rows(rerun / "out.sqlite", "per_window") == rows(once / "out.sqlite", "per_window")


def test_rerun_into_a_table_without_key_refuses_to_hold_fired_windows_twice(tmp_path: Path) -> None:
    clicks, _ = events(300, random.Random(4))
    (tmp_path / "p.rill").write_text(
        'source clicks = file("clicks.jsonl")\n'
        'sink all = sqlite("out.sqlite", "windows")\n'
        "clicks | event_time ts | window tumbling 10s | aggregate { n = count() } | into all\n"
    )
    write(tmp_path, "clicks.jsonl", clicks[:200])
    assert rillet("run", "-q", "p.rill", cwd=tmp_path).returncode == 0
    before = rows(tmp_path / "out.sqlite", "windows")
    write(tmp_path, "clicks.jsonl", clicks[200:], "a")
    again = rillet("run", "-q", "p.rill", cwd=tmp_path)
    assert again.returncode == 1
    assert "--fresh" in again.stderr.decode() and "Traceback" not in again.stderr.decode()
    assert rows(tmp_path / "out.sqlite", "windows") == before


def test_resumed_run_says_what_changed_since_its_checkpoint(tmp_path: Path) -> None:
    clicks, _ = events(100, random.Random(5))
    write(tmp_path, "clicks.jsonl", clicks)
    pipeline = (
        'param tag = "a"\nsource clicks = file("clicks.jsonl")\n'
        'sink out = file("out/out.jsonl")\nclicks | derive tag = tag | into out\n'
    )
    (tmp_path / "p.rill").write_text(pipeline)
    assert rillet("run", "-q", "p.rill", "-p", "tag=s3cret-value", cwd=tmp_path).returncode == 0
    same = rillet("run", "-q", "p.rill", "-p", "tag=s3cret-value", cwd=tmp_path)
    assert same.returncode == 0 and b"warning" not in same.stderr
    other = rillet("run", "-q", "p.rill", "-p", "tag=b", cwd=tmp_path)
    assert other.returncode == 0
    assert other.stderr.decode().startswith(
        "rillet: warning: -p tag changed since checkpoint 1: the run goes on from it with the "
        "state that still fits; --fresh starts over\n"
    )
    (tmp_path / "p.rill").write_text("# a comment\n" + pipeline)
    edited = rillet("run", "-q", "p.rill", "-p", "tag=b", cwd=tmp_path)
    assert "the pipeline file and -p tag changed since checkpoint 1" in edited.stderr.decode()
    for saved in (tmp_path / ".rillet" / "p").iterdir():  # hashes only, never a value
        assert b"s3cret-value" not in saved.read_bytes()
