"""How functions, operators and plugin code map to Flink, before anything runs: a Python UDF
where SQL has no built-in of the same meaning, and a diagnostic at the line of what cannot map
(no JVM is started here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rillet.dsl.cli import main

PLUGIN = """
from typing import Any

from rillet.runtime.plugin import Plugin

plugin = Plugin("ops")


@plugin.function("shout")
def shout(text: str | None) -> str | None:
    return None if text is None else text.upper() + "!"


@plugin.function("anything")
def anything(value: Any) -> Any:
    return value


@plugin.operator("tag")
def tag(record: dict, *, label: str) -> dict | None:
    return {**record, "label": label}


@plugin.operator("running")
class Running:
    def __init__(self, *, field: str) -> None:
        self.field = field

    def process(self, batch: list[dict]) -> list[dict]:
        return batch
"""


def _pipeline(folder: Path, steps: str) -> Path:
    (folder / "ops.py").write_text(PLUGIN)
    (folder / "in.jsonl").write_text('{"ts": 1, "page": "/a", "n": 2}\n')
    text = (
        'use "ops.py"\n'
        "schema S {\n  ts: int\n  page: str\n  n: int\n}\n"
        'source s: S = file("in.jsonl")\n'
        'sink out = file("out/o.jsonl")\n'
        f"s\n{steps}\n  | into out\n"
    )
    (folder / "p.rill").write_text(text)
    return folder / "p.rill"


@pytest.mark.parametrize(
    ("steps", "said"),
    [
        ('  | running(field="n")', "stateful plugin operator `running` keeps its state"),
        ('  | tag(label="x")', "a Flink table function needs its row type"),
        ("  | derive v = anything(page)", "`anything` returns a value whose Flink type"),
        ("  | derive v = [n, 2.5]", "a Flink ARRAY holds one"),
    ],
)
def test_what_cannot_map_is_a_diagnostic_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], steps: str, said: str
) -> None:
    assert main(["check", "--engine", "flink", str(_pipeline(tmp_path, steps))]) == 2
    err = capsys.readouterr().err
    assert "does not map to Flink" in err and said in err and "p.rill:10:5" in err


def test_an_exported_job_carries_the_plugin_file_and_registers_its_udfs(tmp_path: Path) -> None:
    pipeline = _pipeline(
        tmp_path, "  | derive loud = shout(page), r = round(n / 3, 2), q = n // 3, m = n % 3"
    )
    job = tmp_path / "job.py"
    assert main(["export", "--engine", "flink", str(pipeline), "-o", str(job)]) == 0
    script = job.read_text()
    compile(script, str(job), "exec")  # a valid Python script
    assert "('rillet_ops_shout_STRING', " in script and "'ops.py'" in script
    assert repr((tmp_path / "ops.py").read_text()) in script  # the plugin's source, carried
    assert "('rillet_std_round__DOUBLE', 'rillet.stdlib.functions', 'round_'" in script
    assert "rillet_floor_divide_BIGINT" in script and "rillet_remainder_BIGINT" in script
