"""Runs several pipeline files on Flink one after another in one process, so they share one
JVM start: `python -m tests.flink._run_jobs FILE...` (the snippets' conformance test)."""

from __future__ import annotations

import sys

from rillet.dsl.pipeline import compile_file
from rillet.flink.local import run_local
from rillet.flink.translate import translate


def main(files: list[str]) -> int:
    for file in files:
        compiled = compile_file(file)
        assert compiled.plan is not None, file
        job = translate(compiled.plan)
        assert not job.unmapped, (file, job.unmapped)
        run_local(job, file, 1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
