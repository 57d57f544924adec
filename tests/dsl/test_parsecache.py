"""Parsed pipeline files kept between runs (dsl/parsecache.py): a tree read back is the tree a
parse makes, a rerun of an unchanged file does not import the parser, an edited file, a file
with a syntax error and an unreadable entry are parsed afresh, and the cache stays bounded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from rillet.dsl import parsecache
from rillet.dsl.parsecache import parse_cached
from rillet.dsl.parser import parse_with_comments
from tests.conftest import REPO

PIPELINES = sorted(
    [*REPO.glob("examples/**/*.rill"), *REPO.glob("tests/dsl/goldens/*/*.rill")],
    key=lambda p: p.as_posix(),
)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _entries(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / "rillet" / "parsed").glob("*.msgpack"))


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_a_tree_read_back_is_the_tree_the_parser_makes(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    parsed = parse_with_comments(text)
    assert parse_cached(text) == parsed  # the first parses and keeps it
    assert parse_cached(text) == parsed  # the second reads it back


def test_a_file_with_a_syntax_error_is_not_kept(tmp_path: Path) -> None:
    program, diagnostics, _ = parse_cached("source s = generate(count=1\n")
    assert program is None and diagnostics
    assert _entries(tmp_path) == []
    assert parse_cached("source s = generate(count=1\n")[1] == diagnostics


def test_an_edited_text_is_parsed_afresh(tmp_path: Path) -> None:
    first = parse_cached("source s = generate(count=1)\n")[0]
    second = parse_cached("source s = generate(count=2)\n")[0]
    assert first != second
    assert len(_entries(tmp_path)) == 2


def test_an_unreadable_entry_is_parsed_afresh_and_replaced(tmp_path: Path) -> None:
    text = "source s = generate(count=1)  # made\n"
    parsed = parse_cached(text)
    (entry,) = _entries(tmp_path)
    entry.write_bytes(b"\x00not msgpack")
    assert parse_cached(text) == parsed
    assert msgspec.msgpack.decode(entry.read_bytes())  # written anew


def test_the_cache_keeps_at_most_its_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parsecache, "KEEP", 4)
    for n in range(5):
        parse_cached(f"source s = generate(count={n})\n")
    assert len(_entries(tmp_path)) == 2  # past the bound, the oldest go down to half of it


def test_a_rerun_of_an_unchanged_file_does_not_import_the_parser(tmp_path: Path) -> None:
    pipeline = tmp_path / "p.rill"
    pipeline.write_text("source s = generate(count=1)\nsink o = stdout()\ns | into o\n")
    loaded = (
        "import sys\nfrom rillet.dsl.cli import main\ncode = main(sys.argv[1:])\n"
        "print(' '.join(sorted(sys.modules)), file=sys.stderr)\nsys.exit(code)\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", loaded, "run", "--quiet", "--state-dir", str(tmp_path / state)]
            + [str(pipeline)],
            capture_output=True,
            timeout=60,
            env=os.environ,
            check=False,
        )
        for state in ("first", "second")  # each from the start: the second is no resumption
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr.decode()
        assert run.stdout.decode().count("\n") == 1  # the one record
    assert "lark" in runs[0].stderr.decode().split()
    assert "lark" not in runs[1].stderr.decode().split()
