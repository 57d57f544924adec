"""A translated job run on a local Flink mini-cluster (`rillet run --engine flink`).

The job is the exported script itself, run in this process, so what runs here is what a user
submits. Flink's filesystem sink writes a folder of part files; once the job has finished, each
sink's parts are gathered into the one file the pipeline names, as the embedded engine writes
it. A sink nothing flows into (`late into`, `errors into`) is written empty.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import shutil
import tempfile
from pathlib import Path

from .connectors import SinkTable
from .jobfile import job_script
from .translate import FlinkJob


class MissingPyFlink(Exception):
    """PyFlink (`rillet[flink]`) is not installed."""


def run_local(job: FlinkJob, file: str, parallelism: int) -> None:
    try:
        found = importlib.util.find_spec("pyflink")  # never imported here: the job imports it
    except ImportError:  # a finder may refuse it outright
        found = None
    if found is None:
        raise MissingPyFlink("pip install 'rillet[flink]'")
    namespace: dict = {"__name__": "rillet_flink_job"}
    exec(
        compile(job_script(job, file, "job.py", parallelism), f"<flink job of {file}>", "exec"),
        namespace,
    )
    with tempfile.TemporaryDirectory(prefix="rillet-flink-") as scratch:
        folders = {t.name: str(Path(scratch) / t.name) for t, _ in job.sinks if t.path}
        namespace["build"](parallelism, folders).execute().wait()
        for table, _ in job.sinks:
            if table.path is not None:
                _gather(Path(folders[table.name]), Path(table.path), _header(table))


def _header(table: SinkTable) -> bytes:
    """A csv sink's header row as rillet writes it (`csv.writer`), else nothing."""
    if table.header is None:
        return b""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n", delimiter=table.delimiter).writerow(table.header)
    return out.getvalue().encode()


def _gather(parts: Path, target: Path, header: bytes) -> None:
    """The part files into one file; a header only above rows, as rillet writes none for an
    empty output."""
    target.parent.mkdir(parents=True, exist_ok=True)
    found = sorted(parts.rglob("*")) if parts.exists() else []
    files = [p for p in found if p.is_file() and not p.name.startswith(".")]
    with target.open("wb") as out:
        if any(p.stat().st_size for p in files):
            out.write(header)
        for part in files:
            with part.open("rb") as source:
                shutil.copyfileobj(source, out)  # parts can be large: never whole in memory
