"""Every pipeline in examples/ runs through the real `rillet` command and writes exactly the
outputs kept in tests/e2e/expected/<example>/."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from rillet.dsl.pipeline import compile_file
from tests.conftest import REPO, copy_examples, rillet

EXAMPLES = sorted((REPO / "examples").glob("*.rill"))
EXPECTED = Path(__file__).parent / "expected"


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    return copy_examples(REPO / "examples", tmp_path / "examples")


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_checks_and_runs(examples: Path, example: Path) -> None:
    checked = rillet("check", example.name, cwd=examples)
    assert checked.returncode == 0, checked.stderr.decode()
    result = rillet("run", example.name, cwd=examples)
    assert result.returncode == 0, result.stderr.decode()
    assert b"finished" in result.stderr


def test_no_two_examples_write_the_same_file() -> None:
    """Each run starts its files over (and a resumed one checks them): a shared file would be
    overwritten by one example and refuse to resume the other."""
    writers: dict[Path, str] = {}
    for example in EXAMPLES:
        compiled = compile_file(str(example))
        assert compiled.checked is not None
        for decl, config in compiled.checked.sinks.values():
            if decl.call.name.text == "file":
                path = (example.parent / config["path"]).resolve()
                assert writers.setdefault(path, example.name) == example.name, path
    assert len(writers) > len(EXAMPLES)


@pytest.mark.parametrize("example", sorted(p.name for p in EXPECTED.iterdir()))
def test_example_writes_expected_outputs(examples: Path, example: str) -> None:
    result = rillet("run", f"{example}.rill", cwd=examples)
    assert result.returncode == 0, result.stderr.decode()
    expected = sorted(p.name for p in (EXPECTED / example).iterdir())
    assert sorted(p.name for p in (examples / "out").iterdir()) == expected
    for name in expected:
        actual = (examples / "out" / name).read_text()
        assert actual == (EXPECTED / example / name).read_text(), name


def test_quickstart_runs_from_another_folder(examples: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = rillet("run", str(examples / "quickstart.rill"), cwd=elsewhere)
    assert result.returncode == 0, result.stderr.decode()
    assert (examples / "out" / "pages.jsonl").exists()
    assert not (elsewhere / "out").exists()


def test_quickstart_param_override_changes_output(examples: Path) -> None:
    result = rillet("run", "quickstart.rill", "-p", "threshold=100000", cwd=examples)
    assert result.returncode == 0, result.stderr.decode()
    assert (examples / "out" / "slow_checkouts.csv").read_text() == ""
    assert '"slow":true' not in (examples / "out" / "pages.jsonl").read_text()


def test_a_users_earlier_run_does_not_leak_into_the_copy(examples: Path, tmp_path: Path) -> None:
    """The quick start leaves checkpoints in `.rillet/` and outputs in `out/`; a copy made
    after it (as the fixture copies the repository's examples) must run from the start."""
    first = rillet("run", "quickstart.rill", cwd=examples)
    assert first.returncode == 0, first.stderr.decode()
    assert (examples / ".rillet").is_dir() and (examples / "out").is_dir()
    copy = copy_examples(examples, tmp_path / "copy")
    assert not (copy / ".rillet").exists() and not (copy / "out").exists()
    again = rillet("run", "quickstart.rill", cwd=copy)
    assert again.returncode == 0, again.stderr.decode()
    assert b"nothing left to do" not in again.stderr
    assert (copy / "out" / "pages.jsonl").read_text() == (
        examples / "out" / "pages.jsonl"
    ).read_text()


def test_the_rolling_example_of_the_reference_runs_on_the_fraud_data(examples: Path) -> None:
    """docs/language.md §4.5 shows `rolling` on the payments `examples/fraud.rill` reads."""
    text = (REPO / "docs" / "language.md").read_text()
    section = text[text.index("### 4.5 ") : text.index("### 4.6 ")]
    pipeline = section.split("```rill\n", 1)[1].split("```", 1)[0]
    (examples / "rolling.rill").write_text(pipeline)
    result = rillet("run", "rolling.rill", cwd=examples)
    assert result.returncode == 0, result.stderr.decode()
    scored = [json.loads(line) for line in result.stdout.decode().splitlines()]
    payments = (examples / "data" / "payments.jsonl").read_text().splitlines()
    assert len(scored) == len(payments) - 1  # one is late
    assert [r["ts"] for r in scored] == sorted(r["ts"] for r in scored)
    assert all({"n", "total", "avg_price"} <= r.keys() for r in scored)


def reference_blocks(section: str, kind: str) -> list[str]:
    """The ```KIND blocks of docs/language.md's section `section` (`4.6`), in order."""
    text = (REPO / "docs" / "language.md").read_text()
    major, minor = section.split(".")
    body = text[text.index(f"### {section} ") : text.index(f"### {major}.{int(minor) + 1} ")]
    return [block.split("\n", 1)[1] for block in body.split("```")[1::2] if block.startswith(kind)]


def test_the_top_examples_of_the_reference_write_what_it_shows(examples: Path) -> None:
    """docs/language.md §4.6: the bids example writes the rows shown; the busiest pages of each
    window come out two by two, as the row quoted."""
    bids, shown = reference_blocks("4.6", "json")
    leaders, busiest = reference_blocks("4.6", "rill")
    (examples / "data" / "bids.jsonl").write_text(bids)
    for name, pipeline in (("leaders", leaders), ("busiest", busiest)):
        (examples / f"{name}.rill").write_text(pipeline)
    result = rillet("run", "leaders.rill", "-q", cwd=examples)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode() == shown
    result = rillet("run", "busiest.rill", "-q", cwd=examples)
    assert result.returncode == 0, result.stderr.decode()
    rows = result.stdout.decode().splitlines()
    quoted = '{"window_start":1767225610000,"window_end":1767225620000,"page":"/cart","views":5'
    assert f'{quoted},"rank":1}}' in rows
    ranked = [json.loads(row) for row in rows]
    assert [r["rank"] for r in ranked] == [1, 2] * (len(ranked) // 2)
    assert all(a["views"] >= b["views"] for a, b in zip(ranked[::2], ranked[1::2]))


def test_the_live_table_of_the_reference_keeps_one_row_per_hour_and_page(examples: Path) -> None:
    """docs/language.md §4.7: on a file read at once, no early rows, and the upserted table
    holds each hour's and page's final row."""
    (pipeline,) = reference_blocks("4.7", "rill")
    (examples / "live.rill").write_text(pipeline)
    result = rillet("run", "live.rill", "-q", cwd=examples)
    assert result.returncode == 0, result.stderr.decode()
    db = sqlite3.connect(examples / "out" / "live.sqlite")
    try:
        rows = db.execute("SELECT id, page, views, final FROM page_views").fetchall()
    finally:
        db.close()
    lines = (examples / "data" / "events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert sorted(page for _, page, _, _ in rows) == sorted({e["page"] for e in events})
    assert sum(views for _, _, views, _ in rows) == len(events)  # one hour
    assert {final for *_, final in rows} == {1}
