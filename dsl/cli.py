"""The `rillet` command: `run`, `check`.

Exit codes: 0 ok, 1 the pipeline failed while running, 2 a usage or pipeline-file error,
130 interrupted. Mistakes in a pipeline file or its data are reported as diagnostics or one
clear line, never as a Python traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import anyio

from rillet.runtime import (
    ConnectorError,
    NotExecutable,
    PipelineError,
    RunMetrics,
    execute,
)

from .diagnostic import error, render_json, render_text
from .pipeline import Compiled, compile_file

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _params(pairs: Sequence[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"rillet: error: -p expects name=value, got `{pair}`")
        params[name.strip()] = value
    return params


def _report(compiled: Compiled, as_json: bool) -> None:
    if as_json:
        sys.stdout.buffer.write(render_json(compiled.diagnostics, compiled.source) + b"\n")
    elif compiled.diagnostics:
        sys.stderr.write(render_text(compiled.diagnostics, compiled.source))


def cmd_check(args: argparse.Namespace) -> int:
    compiled = compile_file(args.file, _params(args.param))
    _report(compiled, args.format == "json")
    if not compiled.ok:
        return EXIT_USAGE
    if args.format != "json":
        assert compiled.checked is not None
        c = compiled.checked
        print(f"ok: {args.file}: {len(c.sources)} sources, {len(c.streams)} streams, "
              f"{len(c.flows)} flows, {len(c.sinks)} sinks", file=sys.stderr)
    return EXIT_OK


def _find(group: BaseException, kinds: tuple[type[BaseException], ...]) -> BaseException | None:
    if isinstance(group, kinds):
        return group
    for inner in getattr(group, "exceptions", ()):
        found = _find(inner, kinds)
        if found is not None:
            return found
    return None


def _summary(metrics: RunMetrics) -> str:
    """What each node did; for a straight pipeline, read = written + filtered + errors."""
    lines = [f"rillet: finished in {metrics.elapsed_s:.2f} s"]
    for m in metrics.by_kind("source"):
        bad = f"   bad {m.errors:,}" if m.errors else ""
        lines.append(f"  source {m.name:<24} read  {m.records_out + m.errors:>11,}{bad}")
    for m in [*metrics.by_kind("stage"), *metrics.by_kind("operator")]:
        filtered = m.records_in - m.records_out - m.errors - m.late
        detail = f"   filtered {filtered:,}" if filtered > 0 and m.kind == "stage" else ""
        detail += f"   late {m.late:,}" if m.late else ""
        detail += f"   errors {m.errors:,}" if m.errors else ""
        kind = "stage " if m.kind == "stage" else "op    "
        lines.append(f"  {kind} {m.name:<24} in    {m.records_in:>11,}   out "
                     f"{m.records_out:,}{detail}")
    for m in metrics.by_kind("sink"):
        lines.append(f"  sink   {m.name:<24} wrote {m.records_in:>11,}")
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace) -> int:
    compiled = compile_file(args.file, _params(args.param))
    if not compiled.ok:
        _report(compiled, False)
        return EXIT_USAGE
    assert compiled.plan is not None and compiled.checked is not None
    plan, registry = compiled.plan, compiled.checked.registry
    if not plan.nodes:
        print(f"rillet: {args.file}: no flow writes to a sink; nothing to run", file=sys.stderr)
        return EXIT_OK
    try:
        metrics = anyio.run(lambda: execute(plan, registry))
    except KeyboardInterrupt:
        print("rillet: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BaseException as e:
        if _find(e, (KeyboardInterrupt,)) is not None:
            print("rillet: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        not_executable = _find(e, (NotExecutable,))
        if isinstance(not_executable, NotExecutable):
            node = not_executable.node
            compiled.diagnostics = [error("E0801", str(not_executable), node.span, "here")]
            _report(compiled, False)
            return EXIT_USAGE
        failure = _find(e, (PipelineError, ConnectorError))
        if failure is None:
            raise
        print(f"rillet: error: {failure}", file=sys.stderr)
        return EXIT_FAILED
    if not args.quiet:
        print(_summary(metrics), file=sys.stderr)
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="rillet", description="Streaming pipelines in one file.")
    commands = top.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a pipeline")
    check = commands.add_parser("check", help="check a pipeline file without running it")
    for sub in (run, check):
        sub.add_argument("file", help="the pipeline file (.rill)")
        sub.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                         help="override a `param` of the pipeline")
    run.add_argument("-q", "--quiet", action="store_true", help="no summary at the end")
    run.set_defaults(handler=cmd_run)
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.set_defaults(handler=cmd_check)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("rillet: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
            return EXIT_USAGE
        raise


if __name__ == "__main__":
    sys.exit(main())
