"""Plugins end to end: a package installed with pip and found through its entry point, a module
pulled in with `use`, every kind of operator, what happens when plugin code fails, and
`rillet plugins` / `rillet test`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, copy_examples, rillet

DESIGN_PLUGIN = REPO / "tests" / "dsl" / "fixtures" / "language" / "plugins" / "geo.py"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/plugins installed with pip into a folder of its own."""
    work = tmp_path_factory.mktemp("plugin")
    copy_examples(REPO / "examples" / "plugins", work / "src")
    target = work / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(work / "src"),
        ],
        check=True,
        timeout=300,
    )
    return target


def test_installed_package_is_listed_by_rillet_plugins(installed: Path) -> None:
    result = rillet("plugins", "--json", pythonpath=installed)
    assert result.returncode == 0, result.stderr.decode()
    listed = {(c["kind"], c["name"]): c for c in json.loads(result.stdout)}
    assert listed[("function", "country_of")]["plugin"] == "geo"
    assert listed[("function", "country_of")]["signature"] == (
        "country_of(ip: str | None) -> str | None"
    )
    assert listed[("operator", "running_total")]["signature"] == (
        "running_total(field: str, key: str)"
    )
    assert listed[("operator", "mask_ip")]["signature"] == (
        "mask_ip(field: str = 'ip') -> dict | None"
    )
    assert listed[("sink", "file")]["delivery"] == "exactly-once"
    assert listed[("sink", "stdout")]["delivery"] == "at-least-once"
    assert ("function", "lower") in listed  # the standard library through the same API


def test_installed_package_runs_without_use(installed: Path, tmp_path: Path) -> None:
    copy_examples(REPO / "examples" / "plugins", tmp_path / "ex")
    result = rillet("run", "-q", "totals.rill", cwd=tmp_path / "ex", pythonpath=installed)
    assert result.returncode == 0, result.stderr.decode()
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows == [  # the record without a valid address is dropped by `mask_ip`
        {"user": 1, "country": "NL", "ip": "10.0.0.0", "amount": 5.0, "total": 5.0},
        {"user": 2, "country": "GB", "ip": "81.2.69.0", "amount": 12.5, "total": 12.5},
        {"user": 1, "country": "NL", "ip": "10.1.1.0", "amount": 7.5, "total": 12.5},
    ]
    tested = rillet("test", "totals.rill", cwd=tmp_path / "ex", pythonpath=installed)
    assert tested.returncode == 0, tested.stdout.decode()
    assert tested.stdout.decode().splitlines()[-1] == "1 passed, 0 failed"


def test_design_surface_plugin_works_through_use(tmp_path: Path) -> None:
    shutil.copy(DESIGN_PLUGIN, tmp_path / "geo.py")
    (tmp_path / "in.jsonl").write_text(
        '{"ip": "10.1.2.3", "user": 1, "amount": 2}\n{"ip": "8.8.8.8", "user": 1, "amount": 3}\n'
    )
    (tmp_path / "p.rill").write_text(
        'use "geo.py"\nsource s = file("in.jsonl")\nsink o = stdout()\n'
        's | derive country = country_of(ip) | tag(label="x")\n'
        '  | running_total(field="amount", key="user") | into o\n'
    )
    result = rillet("run", "-q", "p.rill", cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["country"], r["label"], r["total"]) for r in rows] == [
        ("ZZ", "x", 2),
        (None, "x", 5),
    ]


PLUGIN = '''
from rillet.runtime.plugin import Plugin

plugin = Plugin("boom")


@plugin.function("fragile")
def fragile(x: int | None) -> int | None:
    """Raises on 3."""
    if x == 3:
        raise ValueError("three is not allowed")
    return x


@plugin.operator("scale")
async def scale(record: dict, *, factor: int = 2) -> dict:
    """Multiplies n, awaiting like an I/O call would."""
    return {**record, "n": record["n"] * factor}


@plugin.operator("without", batch=True)
def without(records: list, *, n: int) -> list:
    """Drops the records whose n is `n`, a batch at a time."""
    return [r for r in records if r["n"] != n]


@plugin.operator("picky")
def picky(record: dict) -> dict | None:
    """Fails on n == 2, returns a non-record on n == 4."""
    if record["n"] == 2:
        raise KeyError("two")
    return "oops" if record["n"] == 4 else record
'''


@pytest.fixture
def boom(tmp_path: Path) -> Path:
    (tmp_path / "boom.py").write_text(PLUGIN)
    (tmp_path / "nums.jsonl").write_text("".join(f'{{"n": {n}}}\n' for n in range(1, 6)))
    return tmp_path


def _pipeline(folder: Path, flow: str, errors: bool = True) -> subprocess.CompletedProcess:
    lines = [
        'use "boom.py"',
        'source s = file("nums.jsonl")',
        "sink o = stdout()",
        'sink e = file("out/e.jsonl")',
    ]
    if errors:
        lines.append("errors into e")
    (folder / "p.rill").write_text("\n".join([*lines, flow, ""]))
    return rillet("run", "-q", "p.rill", cwd=folder)


def _errors(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "out" / "e.jsonl").read_text().splitlines()]


def test_async_and_batch_operators_run_in_order(boom: Path) -> None:
    result = _pipeline(boom, "s | scale(factor=10) concurrency 2 | without(n=20) | into o")
    assert result.returncode == 0, result.stderr.decode()
    assert [json.loads(x)["n"] for x in result.stdout.splitlines()] == [10, 30, 40, 50]


def test_failing_plugin_function_sends_record_to_error_sink(boom: Path) -> None:
    result = _pipeline(boom, "s | derive m = fragile(n) | into o")
    assert result.returncode == 0, result.stderr.decode()
    assert len(result.stdout.splitlines()) == 4
    (error,) = _errors(boom)
    assert error["reason"] == (
        "`derive` failed: function `fragile` (plugin `boom`) raised "
        "ValueError: three is not allowed"
    )
    assert error["raw"] == {"n": 3} and error["offset"] == 18


def test_failing_plugin_function_without_error_sink_stops_the_run(boom: Path) -> None:
    result = _pipeline(boom, "s | derive m = fragile(n) | into o", errors=False)
    assert result.returncode == 1
    err = result.stderr.decode()
    assert "function `fragile` (plugin `boom`) raised ValueError: three is not allowed" in err
    assert "Traceback" not in err


def test_failing_plugin_operator_sends_record_to_error_sink(boom: Path) -> None:
    result = _pipeline(boom, "s | picky() | into o")
    assert result.returncode == 0, result.stderr.decode()
    assert [json.loads(x)["n"] for x in result.stdout.splitlines()] == [1, 3, 5]
    reasons = {e["raw"]["n"]: e["reason"] for e in _errors(boom)}
    assert reasons == {
        2: "`picky` failed: plugin `boom` operator `picky` raised KeyError: 'two'",
        4: "`picky` failed: plugin `boom` operator `picky` returned str, not a record, a list "
        "or None",
    }


def test_plugin_that_fails_to_load_is_a_diagnostic(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("raise RuntimeError('no config')\n")
    (tmp_path / "p.rill").write_text('use "broken.py"\n')
    result = rillet("check", "p.rill", cwd=tmp_path)
    assert result.returncode == 2
    err = result.stderr.decode()
    assert 'plugin "broken.py" failed to load' in err and "RuntimeError: no config" in err
    assert "Traceback" not in err


def test_name_clash_between_plugins_names_both(tmp_path: Path) -> None:
    (tmp_path / "mine.py").write_text(
        "from rillet.runtime.plugin import Plugin\nplugin = Plugin('mine')\n"
        "@plugin.function('lower')\ndef lower(x: str) -> str:\n    return x\n"
    )
    (tmp_path / "p.rill").write_text('use "mine.py"\n')
    result = rillet("check", "p.rill", cwd=tmp_path)
    assert result.returncode == 2
    assert "function `lower` is defined by both plugin `std` and plugin `mine`" in (
        result.stderr.decode()
    )


TESTED = """
schema N {
  ts: int
  n: int
}
source s: N = file("none.jsonl")
sink o = stdout()
sink late = stdout()
sink e = stdout()
errors into e

s | where n > 0 | derive half = 10 / n | into o
s | event_time ts | window tumbling 10s | aggregate { c = count() } | late into late | into o

test "passes" {
  given s = [{ts: 1, n: 2}, {ts: 20000, n: 5}, {ts: 3, n: 0}, {ts: 4, n: "x"}]
  expect o = [{ts: 1, n: 2, half: 5.0}, {ts: 20000, n: 5, half: 2.0},
              {window_start: 0, window_end: 10000, c: 1},
              {window_start: 20000, window_end: 30000, c: 1}]
  expect ordered late = [{ts: 3, n: 0}]
  expect e = [{offset: 3, reason: "schema `N`: expected `int`, got `str` at `n`"}]
}

test "fails with a diff" {
  given s = [{ts: 1, n: 2}]
  expect ordered o = [{ts: 1, n: 2, half: 4.0}]
}
"""


def test_rillet_test_passes_true_blocks_and_diffs_wrong_ones(tmp_path: Path) -> None:
    (tmp_path / "t.rill").write_text(TESTED)
    result = rillet("test", "t.rill", cwd=tmp_path)
    out = result.stdout.decode()
    assert result.returncode == 1, out + result.stderr.decode()
    assert 'test "passes" ... ok' in out
    assert 'test "fails with a diff" ... FAILED' in out
    assert '    - [0] {"ts":1,"n":2,"half":4.0}' in out
    assert '    + [0] {"ts":1,"n":2,"half":5.0}' in out
    assert '    + [1] {"window_start":0,"window_end":10000,"c":1}' in out
    assert out.splitlines()[-1] == "1 passed, 1 failed"


HOLDING = '''
from rillet.runtime.plugin import Plugin

plugin = Plugin("hold")


@plugin.operator("hold")
class Hold:
    """Holds records until the watermark passes their time."""

    def __init__(self) -> None:
        self.held = []

    def process(self, batch: list) -> list:
        self.held += batch
        return []

    def on_watermark(self, ts_ms: int) -> list:
        out = [r for r in self.held if r["ts"] <= ts_ms]
        self.held = [r for r in self.held if r["ts"] > ts_ms]
        return out


@plugin.operator("seven")
class Seven:
    """Returns something that is not a list of records."""

    def process(self, batch: list) -> int:
        return 7


@plugin.operator("nothing", batch=True)
def nothing(records: list) -> None:
    """Returns None: no records."""
    return None


@plugin.operator("grumpy")
class Grumpy:
    """Fails when time moves."""

    def process(self, batch: list) -> list:
        return batch

    def on_watermark(self, ts_ms: int) -> list:
        raise RuntimeError("no time for this")
'''


def _holding(tmp_path: Path, flow: str) -> subprocess.CompletedProcess:
    (tmp_path / "hold.py").write_text(HOLDING)
    (tmp_path / "in.jsonl").write_text("".join(f'{{"ts": {t}}}\n' for t in (1, 2, 5, 9)))
    (tmp_path / "p.rill").write_text(
        'use "hold.py"\nsource s = file("in.jsonl")\nsink o = stdout()\n'
        'sink e = file("out/e.jsonl")\nerrors into e\n' + flow + "\n"
    )
    return rillet("run", "-q", "p.rill", cwd=tmp_path)


def test_plugin_class_gets_the_end_of_input_as_a_last_watermark(tmp_path: Path) -> None:
    result = _holding(tmp_path, "s | event_time ts lateness 3ms | hold() | into o")
    assert result.returncode == 0, result.stderr.decode()
    assert [json.loads(x)["ts"] for x in result.stdout.splitlines()] == [1, 2, 5, 9]


def test_plugin_returning_no_list_sends_the_batch_to_the_error_sink(tmp_path: Path) -> None:
    result = _holding(tmp_path, "s | nothing() | into o\ns | seven() | into o")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b""
    errors = _errors(tmp_path)
    assert len(errors) == 4
    assert all(
        e["reason"] == "`seven` failed: plugin `hold` operator `seven` returned int, "
        "not a list of records"
        for e in errors
    )


def test_plugin_failing_on_a_watermark_stops_the_run_naming_it(tmp_path: Path) -> None:
    result = _holding(tmp_path, "s | event_time ts | grumpy() | into o")
    assert result.returncode == 1
    err = result.stderr.decode()
    assert (
        "plugin `hold` operator `grumpy` raised RuntimeError in `on_watermark`: no time for this"
    ) in err
    assert "Traceback" not in err
