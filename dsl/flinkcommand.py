"""`--engine flink` for `run`, `check` and `explain`, and `rillet export --engine flink`: the
pipeline file compiled as always, its plan translated by `rillet.flink`, and every step that
does not map reported as a diagnostic (E1401) before anything runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rillet.flink.jobfile import job_script
from rillet.flink.local import MissingPyFlink, run_local
from rillet.flink.translate import FlinkJob, Unmapped, translate

from .diagnostic import Diagnostic, error, render_text
from .invocation import EXIT_FAILED, EXIT_OK, EXIT_USAGE, params_of, report
from .pipeline import Compiled, compile_file


def _unmapped(u: Unmapped) -> Diagnostic:
    hints = [u.hint] if u.hint else []
    return error("E1401", f"this step does not map to Flink: {u.reason}", u.span, "here", *hints)


def _translated(args: argparse.Namespace) -> tuple[Compiled, FlinkJob] | None:
    compiled = compile_file(args.file, params_of(args.param))
    report(compiled, False)
    if not compiled.ok or compiled.plan is None:
        return None
    job = translate(compiled.plan)
    unmapped = [_unmapped(u) for u in job.unmapped]
    if unmapped:
        sys.stderr.write(render_text(unmapped, compiled.source))
        return None
    for note in job.notes:
        print(f"rillet: note: {note}", file=sys.stderr)
    return compiled, job


def flink_command(args: argparse.Namespace) -> int:
    translated = _translated(args)
    if translated is None:
        return EXIT_USAGE
    compiled, job = translated
    if args.command == "check":
        print(f"ok: {args.file}: every step maps to Flink", file=sys.stderr)
    elif args.command == "explain":
        sys.stdout.write(_explain(job))
    elif args.command == "export":
        Path(args.output).write_text(
            job_script(job, args.file, Path(args.output).name, args.parallelism)
        )
        print(f"rillet: wrote {args.output}: submit it with `flink run -py`", file=sys.stderr)
    else:
        return _run(compiled, job, args)
    return EXIT_OK


def _run(compiled: Compiled, job: FlinkJob, args: argparse.Namespace) -> int:
    if any(table.path is None for table, _ in job.sinks):
        print("rillet: error: the local mini-cluster has no Kafka connector jar", file=sys.stderr)
        return EXIT_USAGE
    try:
        run_local(job, args.file, args.parallelism)
    except MissingPyFlink as e:
        sys.stderr.write(render_text([_missing_pyflink(compiled, str(e))], compiled.source))
        return EXIT_USAGE
    except Exception as e:  # a Flink job failure arrives as a Py4J error: one clear line
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"rillet: error: the Flink job failed: {first}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _missing_pyflink(compiled: Compiled, install: str) -> Diagnostic:
    """E0408 as for a connector's missing package, at the first source: what runs on Flink."""
    assert compiled.plan is not None
    span = next((n.span for n in compiled.plan.nodes if n.span is not None), None)
    message = "`--engine flink` needs the Python package `pyflink`, which is not installed"
    return error("E0408", message, span, "runs on Flink", install)


def _explain(job: FlinkJob) -> str:
    lines = ["on Flink (Table API / SQL, one job for every sink):"]
    lines += [f"  node {s.node_id} {s.what}: {s.flink}" for s in job.steps]
    lines += [f"  note: {n}" for n in job.notes]
    lines.append("  delivery: exactly-once into file sinks with checkpointing (Flink's file sink)")
    return "\n".join(lines) + "\n"
