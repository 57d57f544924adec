"""`rillet run --watch` as a user runs it: a real process on a followed input, the pipeline
file edited under it, the new behaviour seen in the output, then Ctrl-C (exit 130). Also:
check errors printed while the loop waits for a fix, saved state that no longer fits started
over, a finished bounded run run again from the start, and an edited plugin imported anew.
Waits are bounded polls for a line or an output, never assertions on time."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import rillet
from tests.runtime.monitor.running import Running, eventually

FOLLOWED = """\
set batch_timeout = 20ms
set checkpoint_interval = 500ms
source s = file("in.jsonl", follow=true)
sink   o = file("out.jsonl")
s | derive tag = "v1" | into o
"""


def output(folder: Path) -> list[dict]:
    path = folder / "out.jsonl"
    text = path.read_text() if path.exists() else ""
    return [json.loads(line) for line in text.splitlines()]


def wait_output(folder: Path, expected: list[dict]) -> None:
    eventually(lambda: output(folder) == expected, f"out.jsonl holding {expected}")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def append(path: Path, text: str) -> None:
    with path.open("a") as f:
        f.write(text)


def test_an_edit_restarts_the_run_with_the_new_pipeline_then_ctrl_c_stops(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text('{"n": 1}\n')
    pipeline = tmp_path / "p.rill"
    pipeline.write_text(FOLLOWED)
    with Running(tmp_path, "--watch", "p.rill") as run:
        wait_output(tmp_path, [{"n": 1, "tag": "v1"}])
        edit(pipeline, '"v1"', '"v2"')
        run.wait_line(r"^rillet: p\.rill changed: stopping after a last checkpoint$")
        run.wait_line(r"^rillet: checking p\.rill again$")
        append(tmp_path / "in.jsonl", '{"n": 2}\n')
        # resumed after what was read: record 1 keeps what the first run wrote, exactly once
        wait_output(tmp_path, [{"n": 1, "tag": "v1"}, {"n": 2, "tag": "v2"}])
        assert run.stop() == 130, "\n".join(run.lines)
    assert run.lines[-1] == "rillet: stopped; `rillet run p.rill` resumes"
    assert not any("Traceback" in line for line in run.lines)


def test_check_errors_are_printed_and_the_loop_waits_for_a_fix(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text('{"n": 1}\n')
    pipeline = tmp_path / "p.rill"
    pipeline.write_text(FOLLOWED)
    with Running(tmp_path, "--watch", "p.rill") as run:
        wait_output(tmp_path, [{"n": 1, "tag": "v1"}])
        edit(pipeline, '"v1" | into o', '"v1" | into oo')
        run.wait_line(r"^error: unknown sink `oo`$")
        run.wait_line(r"^rillet: watching p\.rill for changes \(Ctrl-C stops\)$")
        edit(pipeline, 'tag = "v1" | into oo', "tag = n * 10 | into o")
        run.wait_line(r"^rillet: p\.rill changed$")
        append(tmp_path / "in.jsonl", '{"n": 2}\n')
        wait_output(tmp_path, [{"n": 1, "tag": "v1"}, {"n": 2, "tag": 20}])
        assert run.stop() == 130, "\n".join(run.lines)


def test_state_that_no_longer_fits_is_said_and_the_run_starts_over(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text('{"n": 1}\n{"n": 1}\n{"n": 2}\n')
    pipeline = tmp_path / "p.rill"
    pipeline.write_text(FOLLOWED.replace("| derive", "| dedupe by n within 1h | derive"))
    with Running(tmp_path, "--watch", "p.rill") as run:
        wait_output(tmp_path, [{"n": 1, "tag": "v1"}, {"n": 2, "tag": "v1"}])
        edit(pipeline, 'within 1h | derive tag = "v1"', 'within 2h | derive tag = "v2"')
        run.wait_line(
            r"^rillet: p\.rill:5:5: the state saved for `dedupe` \(checkpoint \d+\) "
            r"does not fit the pipeline as it is now$"
        )
        run.wait_line(
            r"^rillet: the saved state does not fit the edited pipeline: starting "
            r"over from the beginning \(as --fresh would\)$"
        )
        wait_output(tmp_path, [{"n": 1, "tag": "v2"}, {"n": 2, "tag": "v2"}])  # rewritten
        assert run.stop() == 130, "\n".join(run.lines)


PLUGIN = '''\
from rillet.runtime.plugin import Plugin

plugin = Plugin("tagger")


@plugin.operator("tag")
def tag(record: dict) -> dict:
    """Marks each record with the plugin's version."""
    return {**record, "tag": "v1"}
'''


WATCHING = "rillet: watching p.rill and tagger.py for changes (Ctrl-C stops)"


def test_an_edited_plugin_reruns_a_finished_run_from_the_start(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text('{"n": 1}\n{"n": 2}\n')
    (tmp_path / "tagger.py").write_text(PLUGIN)
    (tmp_path / "p.rill").write_text(
        'use "tagger.py"\nsource s = file("in.jsonl")\n'
        'sink o = file("out.jsonl")\ns | tag() | into o\n'
    )
    with Running(tmp_path, "--watch", "p.rill") as run:
        eventually(lambda: WATCHING in run.lines, "the first run to finish")
        assert output(tmp_path) == [{"n": 1, "tag": "v1"}, {"n": 2, "tag": "v1"}]
        edit(tmp_path / "tagger.py", '"v1"', '"v2"')
        run.wait_line(r"^rillet: tagger\.py changed$")
        run.wait_line(
            r"^rillet: the last run had read every input to its end: starting over "
            r"\(as --fresh would\), so that the outputs show the edit$"
        )
        wait_output(tmp_path, [{"n": 1, "tag": "v2"}, {"n": 2, "tag": "v2"}])
        # the output is committed before the rerun ends; Ctrl-C once it is watching again
        eventually(lambda: run.lines.count(WATCHING) == 2, "the rerun to finish")
        assert run.stop() == 130, "\n".join(run.lines)
    assert run.lines[-1] == "rillet: stopped watching"


def test_watch_with_workers_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "p.rill").write_text(FOLLOWED)
    result = rillet("run", "--watch", "--workers", "2", "p.rill", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.decode() == (
        "rillet: error: --watch runs one process; it cannot be combined with --workers\n"
    )
