"""A translated job run on a local Flink mini-cluster (`rillet run --engine flink`).

The job is the exported script itself, run in this process, so what runs here is what a user
submits. Flink's filesystem sink writes a folder of part files; once the job has finished, each
sink's parts are gathered into the one file the pipeline names, as the embedded engine writes
it. A sink nothing flows into (`late into`, `errors into`) is written empty.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path

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
                _gather(Path(folders[table.name]), Path(table.path))


def _gather(parts: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        for part in sorted(parts.rglob("*")) if parts.exists() else ():
            if part.is_file() and not part.name.startswith("."):
                with part.open("rb") as source:
                    shutil.copyfileobj(source, out)  # parts can be large: never whole in memory
