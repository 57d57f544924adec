"""Checkpoints through the `rillet` command: resuming by default (also from a checkpoint an
earlier version wrote), nothing done twice after a finished run, state that no longer fits a
changed pipeline, `rillet checkpoints`, SIGTERM stopping after a last checkpoint, and a damaged
checkpoint passed over for the one before."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rillet.runtime.envelope import HEADER_BYTES
from tests.conftest import rillet

FIXTURE = Path(__file__).parent / "fixtures" / "resume_v1"

WINDOWED = """set checkpoint_interval = 10ms
source nums = file("in.jsonl")
sink out = file("out/out.jsonl")
nums | event_time ts | window tumbling {size} | aggregate {{ n = count() }} | into out
"""


def test_checkpoint_from_an_earlier_version_still_resumes(tmp_path: Path) -> None:
    folder = tmp_path / "resume"
    shutil.copytree(FIXTURE, folder)
    result = rillet("run", "p.rill", cwd=folder)
    assert result.returncode == 0, result.stderr.decode()
    assert b"resumed from checkpoint 21" in result.stderr
    output = (folder / "out" / "windows.jsonl").read_bytes()
    assert b"uncommitted" not in output  # cut back to the committed length
    assert output == (folder / "expected.jsonl").read_bytes()


def test_finished_run_has_nothing_left_to_do_until_input_grows(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text('{"n": 1}\n{"n": 2}\n')
    (tmp_path / "p.rill").write_text(
        'source s = file("in.jsonl")\nsink o = file("out/o.jsonl")\ns | derive m = n * 2 | into o\n'
    )
    assert rillet("run", "p.rill", cwd=tmp_path).returncode == 0
    again = rillet("run", "p.rill", cwd=tmp_path)
    assert again.returncode == 0
    assert b"nothing left to do" in again.stderr
    assert (tmp_path / "out" / "o.jsonl").read_text() == '{"n":1,"m":2}\n{"n":2,"m":4}\n'
    with open(tmp_path / "in.jsonl", "a") as f:
        f.write('{"n": 3}\n')
    grown = rillet("run", "-q", "p.rill", cwd=tmp_path)
    assert grown.returncode == 0, grown.stderr.decode()
    assert (tmp_path / "out" / "o.jsonl").read_text() == (
        '{"n":1,"m":2}\n{"n":2,"m":4}\n{"n":3,"m":6}\n'
    )
    fresh = rillet("run", "-q", "--fresh", "p.rill", cwd=tmp_path)
    assert fresh.returncode == 0
    assert (tmp_path / "out" / "o.jsonl").read_text().count("\n") == 3


def test_changed_pipeline_whose_state_no_longer_fits_stops_with_a_hint(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text("".join(f'{{"ts": {t}}}\n' for t in range(0, 5000, 7)))
    (tmp_path / "p.rill").write_text(WINDOWED.format(size="1s"))
    assert rillet("run", "p.rill", cwd=tmp_path).returncode == 0
    (tmp_path / "p.rill").write_text(WINDOWED.format(size="2s"))
    changed = rillet("run", "p.rill", cwd=tmp_path)
    assert changed.returncode == 2
    err = changed.stderr.decode()
    assert "p.rill:4:24" in err and "`aggregate`" in err and "--fresh" in err
    assert "Traceback" not in err
    assert rillet("run", "--fresh", "p.rill", cwd=tmp_path).returncode == 0


def test_rillet_checkpoints_lists_offsets_and_state(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text("".join(f'{{"ts": {t}}}\n' for t in range(0, 5000, 7)))
    (tmp_path / "p.rill").write_text(WINDOWED.format(size="1s"))
    assert rillet("run", "p.rill", cwd=tmp_path).returncode == 0
    listing = rillet("checkpoints", "p.rill", cwd=tmp_path)
    assert listing.returncode == 0
    text = listing.stdout.decode()
    assert "finished" in text
    assert 'source nums: {"done":[],"current":["in.jsonl",9135]}' in text
    assert "sink out: {" in text and "operator " in text


def test_sigterm_stops_after_a_checkpoint_and_the_next_run_finishes_the_job(tmp_path: Path) -> None:
    pipeline = (
        "set checkpoint_interval = 50ms\n"
        "source clicks = generate(count=4000, rate=2000, start_ms=0)\n"
        'sink out = file("out/o.jsonl")\nclicks | select ts, user, page | into out\n'
    )
    for name in ("reference", "stopped"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "p.rill").write_text(pipeline)
    assert rillet("run", "p.rill", cwd=tmp_path / "reference").returncode == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "rillet.dsl.cli", "run", "p.rill"],
        cwd=tmp_path / "stopped",
        stderr=subprocess.PIPE,
    )
    output = tmp_path / "stopped" / "out" / "o.jsonl"
    deadline = time.monotonic() + 30
    while not (output.exists() and output.stat().st_size > 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err.decode()
    assert b"stopped" in err
    resumed = rillet("run", "p.rill", cwd=tmp_path / "stopped")
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert b"resumed from checkpoint" in resumed.stderr
    assert output.read_bytes() == (tmp_path / "reference" / "out" / "o.jsonl").read_bytes()


def test_output_emptied_between_runs_stops_the_resumed_run_without_padding_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "in.jsonl").write_text('{"n": 1}\n{"n": 2}\n')
    (tmp_path / "p.rill").write_text(
        'source s = file("in.jsonl")\nsink o = file("out/o.jsonl")\ns | into o\n'
    )
    assert rillet("run", "-q", "p.rill", cwd=tmp_path).returncode == 0
    output = tmp_path / "out" / "o.jsonl"
    output.write_bytes(b"")
    with open(tmp_path / "in.jsonl", "a") as f:
        f.write('{"n": 3}\n')
    resumed = rillet("run", "-q", "p.rill", cwd=tmp_path)
    assert resumed.returncode == 1
    assert resumed.stderr.decode() == (
        "rillet: error: sink `o`: cannot resume: out/o.jsonl holds 0 bytes, fewer than the 16 "
        "committed in the checkpoint being resumed (it was emptied, cut or replaced since); put "
        "the file back as it was, or run with --fresh to write it again from the start\n"
    )
    assert output.read_bytes() == b""
    fresh = rillet("run", "-q", "--fresh", "p.rill", cwd=tmp_path)
    assert fresh.returncode == 0
    assert output.read_text() == '{"n":1}\n{"n":2}\n{"n":3}\n'


def test_sink_path_edited_between_runs_stops_with_exit_2_and_a_hint(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text('{"n": 1}\n{"n": 2}\n')
    pipeline = 'source s = file("in.jsonl")\nsink o = file("out/{}.jsonl")\ns | into o\n'
    (tmp_path / "p.rill").write_text(pipeline.format("a"))
    assert rillet("run", "-q", "p.rill", cwd=tmp_path).returncode == 0
    (tmp_path / "p.rill").write_text(pipeline.format("b"))
    with open(tmp_path / "in.jsonl", "a") as f:
        f.write('{"n": 3}\n')
    moved = rillet("run", "-q", "p.rill", cwd=tmp_path)
    assert moved.returncode == 2
    assert moved.stderr.decode() == (
        "rillet: warning: the pipeline file changed since checkpoint 1: the run goes on from it "
        "with the state that still fits; --fresh starts over\n"
        "rillet: error: sink `o` wrote to out/a.jsonl up to the checkpoint being resumed, the "
        "pipeline now names out/b.jsonl; run with --fresh to write out/b.jsonl from the start, "
        "or put the path back\n"
    )
    assert not (tmp_path / "out" / "b.jsonl").exists()
    assert rillet("run", "-q", "--fresh", "p.rill", cwd=tmp_path).returncode == 0
    assert (tmp_path / "out" / "b.jsonl").read_text() == '{"n":1}\n{"n":2}\n{"n":3}\n'


def test_input_cut_between_runs_stops_the_resumed_run(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text('{"n": 1}\n{"n": 2}\n')
    (tmp_path / "p.rill").write_text(
        'source s = file("in.jsonl")\nsink o = file("out/o.jsonl")\ns | into o\n'
    )
    assert rillet("run", "-q", "p.rill", cwd=tmp_path).returncode == 0
    (tmp_path / "in.jsonl").write_text('{"n": 3}\n')
    resumed = rillet("run", "-q", "p.rill", cwd=tmp_path)
    assert resumed.returncode == 1
    assert resumed.stderr.decode() == (
        "rillet: error: source `s`: cannot resume: in.jsonl holds 9 bytes, fewer than the 18 "
        "bytes read before the checkpoint being resumed (it was cut or replaced since); run "
        "with --fresh to read it again from the start\n"
    )
    assert (tmp_path / "out" / "o.jsonl").read_text() == '{"n":1}\n{"n":2}\n'


GENERATED = """set checkpoint_interval = 50ms
source clicks = generate(count=4000, rate=4000, start_ms=0)
sink out = file("out/o.jsonl")
sink pages = file("out/pages.jsonl")
clicks | select ts, user, page | into out
clicks | event_time ts lateness 2s | window tumbling 200ms | aggregate by page { n = count() }
  | into pages
"""


def _stopped_run(folder: Path) -> list[Path]:
    """Run GENERATED in `folder`, stopped with SIGTERM once it has saved two checkpoints."""
    folder.mkdir()
    (folder / "p.rill").write_text(GENERATED)
    process = subprocess.Popen(
        [sys.executable, "-m", "rillet.dsl.cli", "run", "p.rill"],
        cwd=folder,
        stderr=subprocess.PIPE,
    )
    state = folder / ".rillet" / "p"
    deadline = time.monotonic() + 30
    while len(list(state.glob("checkpoint-*.msgpack"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err.decode()
    return sorted(state.glob("checkpoint-*.msgpack"))


def _regions(data: bytes) -> dict[str, int]:
    """A byte in each part of a sealed manifest: the envelope, a source offset, operator state,
    a sink's committed length."""
    operators, sinks = data.index(b"\xa9operators"), data.index(b"\xa5sinks")
    return {
        "magic": 1,
        "checksum": HEADER_BYTES - 3,
        "source offset": operators - 1,
        "operator state": (operators + sinks) // 2,
        "sink length": data.index(b"\xa6length", sinks) + 8,
    }


def test_damaged_checkpoint_is_passed_over_for_the_one_before(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "p.rill").write_text(GENERATED)
    assert rillet("run", "-q", "p.rill", cwd=reference).returncode == 0
    stopped = tmp_path / "stopped"
    kept = _stopped_run(stopped)
    newest, before = kept[-1], kept[-2]
    sealed = newest.read_bytes()
    for region, position in _regions(sealed).items():
        folder = tmp_path / region.replace(" ", "-")
        shutil.copytree(stopped, folder)
        damaged = bytearray(sealed)
        damaged[position] ^= 0x04
        (folder / ".rillet" / "p" / newest.name).write_bytes(damaged)
        resumed = rillet("run", "p.rill", cwd=folder)
        err = resumed.stderr.decode()
        assert resumed.returncode == 0, f"{region}: {err}"
        assert "Traceback" not in err
        assert f"skipping unreadable checkpoint {newest.name}" in err, region
        assert f"resumed from checkpoint {int(before.stem.split('-')[1])}" in err, region
        for name in ("o.jsonl", "pages.jsonl"):
            got = (folder / "out" / name).read_bytes().splitlines()
            want = (reference / "out" / name).read_bytes().splitlines()
            assert sorted(got) == sorted(want), f"{region}: {name}"


@pytest.mark.parametrize("failing", [1, 3])
def test_checkpoint_that_cannot_be_written_stops_the_run_with_one_line(
    tmp_path: Path, failing: int
) -> None:
    pipeline = GENERATED.replace("rate=4000", "rate=8000")
    for name in ("reference", "full"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "p.rill").write_text(pipeline)
    assert rillet("run", "-q", "p.rill", cwd=tmp_path / "reference").returncode == 0
    state = tmp_path / "full" / ".rillet" / "p"
    state.mkdir(parents=True)
    full = [state / f"checkpoint-{n:09d}.tmp" for n in range(failing, failing + 100)]
    for temporary in full:  # each checkpoint is written to its .tmp first: on a full disk
        temporary.symlink_to("/dev/full")
    stopped = rillet("run", "-q", "p.rill", cwd=tmp_path / "full")
    assert stopped.returncode == 1
    kept = (
        f"checkpoint {failing - 1} is kept and a rerun resumes from it"
        if failing > 1
        else "no checkpoint is kept, so a rerun starts from the beginning"
    )
    assert stopped.stderr.decode() == (
        f"rillet: error: cannot save checkpoint {failing} to "
        f".rillet/p/checkpoint-{failing:09d}.msgpack: No space left on device; {kept}\n"
    )
    for temporary in full:
        temporary.unlink(missing_ok=True)
    resumed = rillet("run", "p.rill", cwd=tmp_path / "full")
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert (f"resumed from checkpoint {failing - 1}" in resumed.stderr.decode()) == (failing > 1)
    for name in ("o.jsonl", "pages.jsonl"):
        got = (tmp_path / "full" / "out" / name).read_bytes().splitlines()
        want = (tmp_path / "reference" / "out" / name).read_bytes().splitlines()
        assert sorted(got) == sorted(want), name
