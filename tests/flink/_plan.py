"""Prints a job script's execution plan at a parallelism, one node a line as JSON (`id`,
`parallelism`, `contents`): `python -m tests.flink._plan JOB.py N`. Its own process, as PyFlink's
JVM gateway lives as long as the process."""

from __future__ import annotations

import json
import runpy
import sys


def main(script: str, parallelism: int) -> int:
    from pyflink.table import ExplainDetail

    job = runpy.run_path(script, run_name="rillet_flink_plan")
    text = job["build"](parallelism).explain(ExplainDetail.JSON_EXECUTION_PLAN)
    plan = json.loads(text.split("== Physical Execution Plan ==")[1])
    for node in plan["nodes"]:
        print(json.dumps({k: node[k] for k in ("id", "parallelism", "contents")}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
