"""A plugin connector's capabilities are checked once, when the run builds it: one that declares
a capability without its methods, or has a capability's methods without declaring it, stops
the run with one line naming the connector and what to do, exit code 1, and no output written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import rillet

PLUGIN = '''
import msgspec

from rillet.runtime.plugin import (
    Committing, Plugin, Seekable, SinkContext, SourceBatch, SourceContext)

plugin = Plugin("numbers")


class Config(msgspec.Struct):
    count: int


class NoConfig(msgspec.Struct):
    pass


class Counting:
    def __init__(self, config: Config, context: SourceContext) -> None:
        self.count, self.next = config.count, 0

    async def open(self) -> None:
        pass

    async def read_batch(self):
        if self.next >= self.count:
            return None
        self.next += 1
        return SourceBatch([{"n": self.next}], [self.next])

    async def aclose(self) -> None:
        pass


@plugin.source("undeclared", config=Config)
class Undeclared(Counting):
    """Has `position` and `seek` but does not say it can be resumed."""

    def position(self) -> int:
        return self.next

    def seek(self, position: int) -> None:
        self.next = position


@plugin.source("declared_only", config=Config)
class DeclaredOnly(Counting, Seekable):
    """Says it can be resumed but cannot."""


@plugin.sink("forgetful", config=NoConfig)
class Forgetful:
    """Acknowledges what it wrote without saying it does."""

    def __init__(self, config: NoConfig, context: SinkContext) -> None:
        pass

    async def open(self) -> None:
        pass

    async def write(self, records: list[dict]) -> None:
        pass

    async def commit(self, committed: object) -> None:
        pass

    async def aclose(self) -> None:
        pass


@plugin.source("fine", config=Config)
class Fine(Counting, Seekable, Committing):
    def position(self) -> int:
        return self.next

    def seek(self, position: int) -> None:
        self.next = position

    async def commit(self, position: int) -> None:
        pass
'''


def run(tmp_path: Path, source: str, sink: str) -> tuple[int, str]:
    (tmp_path / "counting.py").write_text(PLUGIN)
    (tmp_path / "p.rill").write_text(
        f'use "counting.py"\n\nsource n = {source}(count=3)\nsink out = {sink}\n\nn | into out\n'
    )
    result = rillet("run", "--quiet", "p.rill", cwd=tmp_path)
    return result.returncode, result.stderr.decode()


@pytest.mark.parametrize(
    ("source", "sink", "message"),
    [
        (
            "undeclared",
            'file("out.jsonl")',
            "`n` (Undeclared) defines seek() but does not declare Seekable: add it to the class's "
            "bases (`from rillet.runtime.plugin import Seekable`)",
        ),
        (
            "declared_only",
            'file("out.jsonl")',
            "`n` (DeclaredOnly) declares Seekable but does not define seek()",
        ),
        (
            "fine",
            "forgetful()",
            "`out` (Forgetful) defines commit() but does not declare Committing",
        ),
    ],
)
def test_a_connector_not_matching_its_capabilities_stops_the_run_in_one_line(
    tmp_path: Path, source: str, sink: str, message: str
) -> None:
    code, stderr = run(tmp_path, source, sink)
    assert code == 1, stderr
    assert message in stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_a_connector_declaring_what_it_defines_runs(tmp_path: Path) -> None:
    code, stderr = run(tmp_path, "fine", 'file("out.jsonl")')
    assert code == 0, stderr
    assert (tmp_path / "out.jsonl").read_text().splitlines() == ['{"n":1}', '{"n":2}', '{"n":3}']
