"""Editing a pipeline that has state, then resuming it: for each typical edit, a run over half
the input, the edit, the rest of the input appended, `rillet diff` (checked against a golden
file) and the resumed run. Edits that keep every operator's state resume by themselves and
write what a model of "old pipeline up to the checkpoint, edited pipeline after it, state kept"
says; a window's size or keys changed, or an operator removed, stop the run until
`--drop-state` accepts it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, rillet

GOLDENS = REPO / "tests" / "e2e" / "goldens" / "upgrade"
EVENTS, HALF = 4000, 2000
STEP_MS, WINDOW_MS, LATENESS_MS = 100, 10_000, 1000
SWITCH_WATERMARK = (HALF - 1) * STEP_MS - LATENESS_MS  # windows ending by then closed in run 1

BASE = """\
set checkpoint_interval = 50ms
source s = file("in.jsonl")
sink   o = file("out.jsonl")
sink   d = file("firsts.jsonl")
s
  | event_time ts lateness 1s
  | window tumbling 10s
  | aggregate by user { c = count(), total = sum(v) }
  | select window_start, user, c
  | into o
s | dedupe by user within 1s | into d
"""

Record = dict
Row = dict


def keep_all(record: Record) -> bool:
    return True


def as_is(row: Row) -> Row:
    return {k: row[k] for k in ("window_start", "user", "c")}


@dataclass
class Edit:
    name: str
    old: str
    new: str
    pre: Callable[[Record], bool] = keep_all
    post: Callable[[Row], Row] = as_is
    window_ms: int = WINDOW_MS
    flag: str | None = None
    """The `--drop-state` a resumed run needs: that operator's state starts empty."""
    window_kept: bool = True
    """The window's state resumes (else it starts empty)."""


EDITS = [
    Edit(
        "where_before_aggregate",
        "s\n  | event_time",
        "s\n  | where user != 3\n  | event_time",
        pre=lambda r: r["user"] != 3,
    ),
    Edit(
        "derive_after_aggregate",
        "  | select window_start, user, c\n",
        "  | select window_start, user, c\n  | derive many = c > 20\n",
        post=lambda row: {**as_is(row), "many": row["c"] > 20},
    ),
    Edit(
        "field_added_to_select",
        "select window_start, user, c",
        "select window_start, user, c, total",
        post=lambda row: {**as_is(row), "total": row["total"]},
    ),
    Edit(
        "sink_and_flow_added",
        'sink   d = file("firsts.jsonl")\n',
        'sink   d = file("firsts.jsonl")\nsink   p = file("evens.jsonl")\n'
        "s | where v % 2 == 0 | select v | into p\n",
    ),
    Edit("alert_added", "s | dedupe", "alert jammed when backpressure > 90% for 1m\ns | dedupe"),
    Edit(
        "window_size_changed",
        "window tumbling 10s",
        "window tumbling 20s",
        window_ms=20_000,
        flag="aggregate@7",
        window_kept=False,
    ),
    Edit(  # c0 follows from user: the same groups, under other keys
        "keys_changed",
        "aggregate by user {",
        "aggregate by user, c0 {",
        flag="aggregate@7",
        window_kept=False,
    ),
    Edit(
        "operator_removed",
        "s | dedupe by user within 1s | into d\n",
        "",
        flag="dedupe@11",
    ),
]


def windows(records: list[Record], window_ms: int) -> dict[tuple[int, int], Row]:
    rows: dict[tuple[int, int], Row] = {}
    for r in records:
        start = r["ts"] - r["ts"] % window_ms
        row = rows.setdefault(
            (start, r["user"]), {"window_start": start, "user": r["user"], "c": 0, "total": 0}
        )
        row["c"] += 1
        row["total"] += r["v"]
    return rows


def expected(edit: Edit, records: list[Record]) -> list[Row]:
    """Windows closed in the first run as the old pipeline wrote them; the others from the
    records the old pipeline took before the checkpoint (its state, unless dropped) and those
    the edited one takes after it."""
    before, after = records[:HALF], records[HALF:]
    old = windows(before, WINDOW_MS)
    rows = [as_is(r) for r in old.values() if r["window_start"] + WINDOW_MS <= SWITCH_WATERMARK]
    carried = [r for r in before if not closed(r)] if edit.window_kept else []
    later = windows(carried + [r for r in after if edit.pre(r)], edit.window_ms)
    ends = [r for r in later.values() if r["window_start"] + edit.window_ms > SWITCH_WATERMARK]
    return rows + [edit.post(r) for r in ends]


def closed(record: Record) -> bool:
    return record["ts"] - record["ts"] % WINDOW_MS + WINDOW_MS <= SWITCH_WATERMARK


def lines(path: Path) -> list[Row]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def write(path: Path, records: list[Record]) -> None:
    with path.open("a") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)


@pytest.mark.parametrize("edit", EDITS, ids=lambda e: e.name)
def test_an_edit_resumes_with_the_state_that_still_fits(
    request: pytest.FixtureRequest, tmp_path: Path, edit: Edit
) -> None:
    records = [{"ts": n * STEP_MS, "user": n % 4, "v": n, "c0": n % 2} for n in range(EVENTS)]
    write(tmp_path / "in.jsonl", records[:HALF])
    pipeline = tmp_path / "p.rill"
    pipeline.write_text(BASE)
    assert rillet("run", "-q", "p.rill", cwd=tmp_path).returncode == 0
    assert edit.old in BASE
    pipeline.write_text(BASE.replace(edit.old, edit.new))
    write(tmp_path / "in.jsonl", records[HALF:])

    diff = rillet("diff", "p.rill", cwd=tmp_path)
    assert diff.returncode == 0, diff.stderr.decode()
    shown = re.sub(r"checkpoint \d+", "checkpoint N", diff.stdout.decode())
    golden = GOLDENS / f"{edit.name}.txt"
    if request.config.getoption("--update-goldens"):
        golden.write_text(shown)
    assert golden.exists(), f"no {golden.name}: run pytest --update-goldens"
    assert shown == golden.read_text()

    resumed = rillet("run", "-q", "p.rill", cwd=tmp_path)
    if edit.flag is not None:
        assert resumed.returncode == 2
        assert f"--drop-state {edit.flag} " in resumed.stderr.decode()
        resumed = rillet("run", "-q", "p.rill", "--drop-state", edit.flag, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr.decode()
    got = sorted(lines(tmp_path / "out.jsonl"), key=json.dumps)
    assert got == sorted(expected(edit, records), key=json.dumps)
    if edit.name == "sink_and_flow_added":  # the new sink gets what is read after the checkpoint
        assert [r["v"] for r in lines(tmp_path / "evens.jsonl")] == list(range(HALF, EVENTS, 2))
