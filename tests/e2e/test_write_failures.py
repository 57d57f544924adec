"""An output that cannot be written — standard output on a full disk (`/dev/full`), a file past
the size the system lets it grow to — stops the run with one line naming the sink and exit code
1, never a traceback; once it can be written again, a rerun writes the whole output."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import rillet

GENERATED = (
    "source clicks = generate(count=20000)\nsink out = {sink}\n"
    "clicks | select ts, user, page | into out\n"
)


def test_standard_output_on_a_full_disk_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "p.rill").write_text(GENERATED.format(sink="stdout()"))
    with open("/dev/full", "wb") as full:
        result = subprocess.run(
            [sys.executable, "-m", "rillet.dsl.cli", "run", "-q", "p.rill"],
            cwd=tmp_path,
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr.decode() == (
        "rillet: error: sink `out`: cannot write standard output: No space left on device\n"
    )


LIMIT = 64 * 1024


def _files_limited() -> None:
    """In the child: no file may grow past LIMIT bytes; a write past it fails with EFBIG
    instead of killing the process with SIGXFSZ."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def test_file_sink_that_cannot_grow_is_one_line_and_a_rerun_writes_it_all(tmp_path: Path) -> None:
    (tmp_path / "p.rill").write_text(GENERATED.format(sink='file("out/o.jsonl")'))
    limited = subprocess.run(
        [sys.executable, "-m", "rillet.dsl.cli", "run", "-q", "p.rill"],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        preexec_fn=_files_limited,
    )
    assert limited.returncode == 1
    assert limited.stderr.decode() == "rillet: error: sink `out`: cannot write: File too large\n"
    assert (tmp_path / "out" / "o.jsonl").stat().st_size == LIMIT
    rerun = rillet("run", "-q", "p.rill", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr.decode()
    assert len((tmp_path / "out" / "o.jsonl").read_text().splitlines()) == 20000
