"""The `rillet` command: `run`, `check`, `test`, `graph`, `explain`, `plugins`, `checkpoints`,
`lineage`, `diff`, `fmt`, `lsp`, `export` (and `--engine flink`, `flinkcommand.py`).

Exit codes: 0 ok, 1 the pipeline failed while running, 2 a usage or pipeline-file error (or
saved state that no longer fits the file, or a state folder the run cannot use), 130
interrupted (143 on SIGTERM). Mistakes in a pipeline file or its data are reported as
diagnostics or one clear line, never as a Python traceback. Once a pipeline is compiled, what
rillet itself writes shows the values the file read through `env()` as `env("NAME")`
(`invocation.py`).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from rillet.runtime import Registry
from rillet.runtime.checkpoint import Manifest
from rillet.runtime.stores import BrokerError

if TYPE_CHECKING:
    from . import lineage

from .arguments import parser
from .invocation import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    mask_output,
    params_of,
    report,
)
from .loader import installed_plugins
from .pipeline import Compiled, compile_file
from .runcommand import cmd_run
from .signature import signature
from .workers import checkpoint_store


def cmd_check(args: argparse.Namespace) -> int:
    compiled = compile_file(args.file, params_of(args.param), inputs=True)
    report(compiled, args.format == "json")
    if not compiled.ok:
        return EXIT_USAGE
    if args.format != "json":
        assert compiled.checked is not None
        c = compiled.checked
        print(
            f"ok: {args.file}: {len(c.sources)} sources, {len(c.streams)} streams, "
            f"{len(c.flows)} flows, {len(c.sinks)} sinks",
            file=sys.stderr,
        )
    return EXIT_OK


def cmd_checkpoints(args: argparse.Namespace) -> int:
    registry = Registry.from_plugins(installed_plugins()[0])  # the brokers of --state-store
    try:
        if args.workers == 1:
            return _list_checkpoints(checkpoint_store(args, registry).all(), args.file)
        for worker in range(args.workers):  # each worker keeps its own
            print(f"worker {worker}:")
            store = checkpoint_store(args, registry, worker)
            _list_checkpoints(store.all(), f"{args.file} (worker {worker})")
    except BrokerError as e:
        print(f"rillet: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _list_checkpoints(manifests: list[Manifest], what: str) -> int:
    from . import lineage

    if not manifests:
        print(f"rillet: no checkpoints for {what}", file=sys.stderr)
        return EXIT_OK
    for m in manifests:
        moment = datetime.fromtimestamp(m.time_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        state = sum(len(o.state) for o in m.operators.values())
        print(
            f"checkpoint {m.checkpoint_id}  {moment} UTC"
            f"{'  finished' if m.finished else ''}  state {state:,} bytes"
        )
        print(f"  pipeline {lineage.pipeline_version(m)}")
        for name, position in m.sources.items():
            print(f"  source {name}: {msgspec.json.encode(position).decode()}")
        for key, saved in m.operators.items():
            print(f"  operator {key}: {len(saved.state):,} bytes")
        for name, committed in m.sinks.items():
            print(f"  sink {name}: {msgspec.json.encode(committed).decode()}")
    return EXIT_OK


def cmd_lineage(args: argparse.Namespace) -> int:
    from . import lineage

    if (args.sink is None) != (args.at is None):
        print("rillet: error: --sink and --at go together", file=sys.stderr)
        return EXIT_USAGE
    registry = Registry.from_plugins(installed_plugins()[0])  # the brokers of --state-store
    try:
        at = None if args.at is None else lineage.position(args.at)
        found = lineage.lineages(checkpoint_store(args, registry).history())
        if at is not None:
            base = Path(args.file).parent
            return _lineage_at(found, args.sink, at, base, args.format == "json")
    except (ValueError, lineage.NotFound, BrokerError) as e:
        print(f"rillet: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    if args.format == "json":
        sys.stdout.buffer.write(msgspec.json.encode([lineage.as_json(x) for x in found]) + b"\n")
    elif not found:
        print(f"rillet: no checkpoints for {args.file}", file=sys.stderr)
    for lin in found if args.format == "text" else ():
        print("\n".join(lineage.render(lin)))
    return EXIT_OK


def _lineage_at(
    found: list[lineage.Lineage], sink: str, at: lineage.At, base: Path, json: bool
) -> int:
    from . import lineage

    lin, where = lineage.find(found, sink, at, base)
    if json:
        answer = {"sink": sink, **where, **lineage.as_json(lin, sink)}
        sys.stdout.buffer.write(msgspec.json.encode(answer) + b"\n")
        return EXIT_OK
    said = f"byte {where['byte']} (line {where['line']})" if "byte" in where else ""
    print(f"sink {sink}, {said or 'table version ' + str(where['version'])}:")
    print("\n".join(lineage.render(lin, sink)))
    return EXIT_OK


def cmd_test(args: argparse.Namespace) -> int:
    from .testing import run_test

    compiled = compile_file(args.file, params_of(args.param))
    if not compiled.ok:
        report(compiled, False)
        return EXIT_USAGE
    assert compiled.plan is not None and compiled.checked is not None
    mask_output(compiled.plan, stdout=True)
    tests = compiled.checked.tests
    if not tests:
        print(f"rillet: {args.file} has no `test` blocks", file=sys.stderr)
        return EXIT_OK
    passed = failed = 0
    for test in tests:
        result = run_test(compiled.checked, compiled.plan, test)
        print(f'test "{result.name}" ... {"ok" if result.passed else "FAILED"}')
        for line in result.failures:
            print(line)
        passed, failed = passed + result.passed, failed + (not result.passed)
    print(f"{passed} passed, {failed} failed")
    return EXIT_OK if not failed else EXIT_FAILED


def cmd_plugins(args: argparse.Namespace) -> int:
    if args.file:
        compiled = compile_file(args.file)
        if not compiled.ok or compiled.checked is None:
            report(compiled, False)
            return EXIT_USAGE
        registry = compiled.checked.registry
    else:
        plugins, problems = installed_plugins()
        for problem in problems:
            print(f"rillet: warning: {problem.message}", file=sys.stderr)
        registry = Registry.from_plugins(plugins)
    specs = registry.all()
    if args.json:
        sys.stdout.buffer.write(
            msgspec.json.encode(
                [
                    {
                        "kind": s.kind,
                        "name": s.name,
                        "plugin": s.plugin,
                        "signature": signature(s),
                        "summary": s.summary,
                        "delivery": s.delivery,
                    }
                    for s in specs
                ]
            )
            + b"\n"
        )
        return EXIT_OK
    for kind in ("source", "sink", "table", "operator", "function", "aggregate", "broker"):
        chosen = [s for s in specs if s.kind == kind]
        if not chosen:
            continue
        print(f"{kind}s:")
        for s in chosen:
            delivery = f"  [{s.delivery}]" if s.delivery else ""
            print(f"  {signature(s)}  ({s.plugin}){delivery}")
            if s.summary:
                print(f"      {s.summary}")
    return EXIT_OK


def _planned(args: argparse.Namespace) -> Compiled | None:
    """The compiled file for `graph` and `explain`, or None after reporting its errors."""
    compiled = compile_file(args.file, params_of(args.param))
    report(compiled, False)  # warnings too: the reader is looking at this pipeline
    return compiled if compiled.ok and compiled.plan is not None else None


def cmd_graph(args: argparse.Namespace) -> int:
    from .graph import FORMATS, build

    compiled = _planned(args)
    if compiled is None:
        return EXIT_USAGE
    assert compiled.plan is not None
    sys.stdout.write(FORMATS[args.format](build(compiled.plan)))
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    from .explain import explain

    compiled = _planned(args)
    if compiled is None:
        return EXIT_USAGE
    assert compiled.plan is not None and compiled.checked is not None
    sys.stdout.write(explain(compiled.plan, compiled.checked.registry))
    return EXIT_OK


def cmd_lsp(args: argparse.Namespace) -> int:
    try:
        from .lsp.server import serve
    except ModuleNotFoundError as e:  # the `lsp` extra is not installed
        if (e.name or "").split(".")[0] not in ("pygls", "lsprotocol"):
            raise
        print("rillet: error: `rillet lsp` needs pygls: pip install 'rillet[lsp]'", file=sys.stderr)
        return EXIT_USAGE
    serve()
    return EXIT_OK


def _later(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    """A command whose module is imported when it runs, so that `rillet run` starts without
    loading what `fmt`, `diff` or the Flink engine need."""

    def command(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(module, __package__), name)(args)

    return command


def main(argv: Sequence[str] | None = None) -> int:
    handlers = {
        "run": cmd_run,
        "check": cmd_check,
        "test": cmd_test,
        "plugins": cmd_plugins,
        "checkpoints": cmd_checkpoints,
        "graph": cmd_graph,
        "explain": cmd_explain,
        "lineage": cmd_lineage,
        "diff": _later(".diff", "cmd_diff"),
        "fmt": _later(".fmtcommand", "cmd_fmt"),
        "lsp": cmd_lsp,
    }
    args = parser(argv).parse_args(argv)
    streams = sys.stdout, sys.stderr
    if getattr(args, "engine", "embedded") == "flink":
        handlers[args.command] = _later(".flinkcommand", "flink_command")
    try:
        code = handlers[args.command](args)
        sys.stdout, sys.stderr = streams  # unmasked (`invocation.py`); a traceback stays masked
        return code
    except KeyboardInterrupt:
        print("rillet: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `rillet checkpoints FILE | head`: the reader has gone
        sys.stderr.close()
        return EXIT_OK
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
            return EXIT_USAGE
        raise


if __name__ == "__main__":
    sys.exit(main())
