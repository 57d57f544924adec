"""A plan runs on its own: it records the plugins its pipeline `use`s, so a plan decoded from
JSON, with no front end and no registry beside it, runs with the components it needs."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import msgspec

from rillet.runtime import execute
from rillet.runtime.plan import Plan, UsedPlugin
from tests.conftest import compile_pipeline

PLUGIN = '''
from rillet.runtime.plugin import Plugin

plugin = Plugin("shouting")


@plugin.function("shout")
def shout(text: str | None) -> str | None:
    """Upper case with an exclamation mark."""
    return None if text is None else text.upper() + "!"
'''

PIPELINE = """use "plugins/shouting.py"
source words = file("in.jsonl")
sink out = file("out.jsonl")
words | derive loud = shout(word) | into out
"""


def test_a_plan_decoded_from_json_runs_with_the_plugins_it_records(tmp_path: Path) -> None:
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "shouting.py").write_text(PLUGIN)
    (tmp_path / "in.jsonl").write_text('{"word": "hi"}\n{"word": "there"}\n')
    compiled = compile_pipeline(PIPELINE, tmp_path)
    assert compiled.plan is not None
    assert compiled.plan.plugins == (UsedPlugin("plugins/shouting.py", True),)
    plan = msgspec.json.decode(msgspec.json.encode(compiled.plan), type=Plan)
    anyio.run(lambda: execute(plan))
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"word": "hi", "loud": "HI!"},
        {"word": "there", "loud": "THERE!"},
    ]
