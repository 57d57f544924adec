"""The files `rillet run --watch` polls (dsl/watch.py): the pipeline file and the plugin files
it `use`s by path, looked up again when the pipeline changes; a change reported once the files
hold still; a wait cancelled part way leaving what it saw to the next one."""

from __future__ import annotations

from pathlib import Path

import anyio

from rillet.dsl.watch import Files, plugin_files
from rillet.runtime.clock import SystemClock

PIPELINE = 'use "a.py"\nuse some.package\nsource s = stdin()\nsink o = stdout()\ns | into o\n'


def test_plugin_files_are_the_uses_by_path(tmp_path: Path) -> None:
    (tmp_path / "p.rill").write_text(PIPELINE)
    assert plugin_files(tmp_path / "p.rill") == [tmp_path / "a.py"]
    (tmp_path / "bad.rill").write_text("source s = (\n")
    assert plugin_files(tmp_path / "bad.rill") is None
    assert plugin_files(tmp_path / "missing.rill") is None


def test_a_use_added_to_the_pipeline_is_watched_from_then_on(tmp_path: Path) -> None:
    pipeline = tmp_path / "p.rill"
    pipeline.write_text(PIPELINE)
    files = Files(pipeline)
    assert not files._look()
    pipeline.write_text('use "b.py"\n' + PIPELINE)
    assert files._look() and files.pending == [pipeline]
    assert files.names() == "p.rill, b.py and a.py"
    (tmp_path / "b.py").write_text("plugin = None\n")
    assert files._look() and files.pending == [pipeline, tmp_path / "b.py"]


def test_a_pipeline_that_does_not_parse_keeps_the_plugins_it_had(tmp_path: Path) -> None:
    pipeline = tmp_path / "p.rill"
    pipeline.write_text(PIPELINE)
    files = Files(pipeline)
    pipeline.write_text(PIPELINE + "source = (\n")
    assert files._look() and files.plugins == [tmp_path / "a.py"]


def test_a_cancelled_wait_leaves_the_change_to_the_next(tmp_path: Path) -> None:
    pipeline = tmp_path / "p.rill"
    pipeline.write_text(PIPELINE)
    files = Files(pipeline)

    async def main() -> list[Path]:
        with anyio.move_on_after(0.1):  # sees the change, then is cancelled while settling
            pipeline.write_text(PIPELINE + "\n")
            await files.until_changed(SystemClock())
        return await files.until_changed(SystemClock())

    assert anyio.run(main) == [pipeline]
