"""The command line `rillet` reads: its commands and their options, as argparse describes them
and `rillet --help` prints them. What each command does is `cli.py`'s."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

HTTP_TOKEN = "RILLET_HTTP_TOKEN"
GRAPH_FORMATS = ("text", "mermaid", "dot")
"""`graph.FORMATS`' names, written out so that every command starts without importing the
drawing code (a test keeps the two equal)."""


def installed_version() -> str:
    """The installed distribution's version, so it never drifts from pyproject.toml."""
    # looked up only when asked: finding a distribution reads the installed packages' metadata
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rillet")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


class _Version(argparse.Action):
    """`--version`, which looks the version up only when it is given."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> NoReturn:
        sys.stdout.write(f"rillet {installed_version()}\n")
        parser.exit()


def parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The command line. Given the arguments (`sys.argv[1:]` when None), only the command they
    name is built: each command's parser costs about a millisecond to make, a tenth of what
    the rest of a short run's argument handling and checking takes. `rillet --help`, or a
    command that does not exist, gets them all."""
    top = argparse.ArgumentParser(prog="rillet", description="Streaming pipelines in one file.")
    top.add_argument("--version", action=_Version, help="show program's version number and exit")
    commands = top.add_subparsers(dest="command", required=True)
    given = sys.argv[1:] if argv is None else argv
    named = [given[0]] if given and given[0] in _COMMANDS else list(_COMMANDS)
    for name in named:
        summary, add_options = _COMMANDS[name]
        add_options(commands.add_parser(name, help=summary))
    return top


def _run(run: argparse.ArgumentParser) -> None:
    _file_and_params(run)
    _run_options(run)
    _state_options(run)
    _worker_options(run)
    _engine_options(run, required=False, parallel=True)


def _check(check: argparse.ArgumentParser) -> None:
    _file_and_params(check)
    check.add_argument("--format", choices=("text", "json"), default="text")
    _engine_options(check, required=False)


def _plugins(plugins: argparse.ArgumentParser) -> None:
    plugins.add_argument("file", nargs="?", help="also the plugins this pipeline `use`s")
    plugins.add_argument("--json", action="store_true", help="as JSON")


def _checkpoints(checkpoints: argparse.ArgumentParser) -> None:
    checkpoints.add_argument("file", help="the pipeline file (.rill)")
    _state_options(checkpoints)


def _lineage(lineage: argparse.ArgumentParser) -> None:
    lineage.add_argument("file", help="the pipeline file (.rill)")
    lineage.add_argument("--sink", metavar="NAME", help="with --at: the sink to look in")
    lineage.add_argument(
        "--at",
        metavar="POSITION",
        help="with --sink: a byte offset (1234) or a line (line:12) of a file sink's output, "
        "or a version (version:3) of a delta table",
    )
    lineage.add_argument("--format", choices=("text", "json"), default="text")
    _state_options(lineage)


def _diff(diff: argparse.ArgumentParser) -> None:
    _file_and_params(diff)
    _state_options(diff)


def _graph(graph: argparse.ArgumentParser) -> None:
    graph.add_argument(
        "--format",
        choices=GRAPH_FORMATS,
        default="text",
        help="text (a tree), mermaid (flowchart) or dot (Graphviz)",
    )
    _file_and_params(graph)


def _explain(explain: argparse.ArgumentParser) -> None:
    _file_and_params(explain)
    _engine_options(explain, required=False)


def _fmt(fmt: argparse.ArgumentParser) -> None:
    fmt.add_argument("files", nargs="+", metavar="FILE", help="pipeline files (.rill)")
    fmt.add_argument(
        "--check",
        action="store_true",
        help="rewrite nothing: name the files that would change, exit 1 if any would",
    )


def _export(export: argparse.ArgumentParser) -> None:
    _file_and_params(export)
    export.add_argument("-o", "--output", required=True, metavar="JOB.py", help="the job file")
    _engine_options(export, required=True, parallel=True)


def _no_options(_: argparse.ArgumentParser) -> None:
    pass


def _engine_options(sub: argparse.ArgumentParser, required: bool, parallel: bool = False) -> None:
    """`--engine flink`: the plan translated for Apache Flink (docs/flink.md)."""
    engines = ("flink",) if required else ("embedded", "flink")
    sub.add_argument(
        "--engine",
        choices=engines,
        default=None if required else "embedded",
        required=required,
        help="the engine that runs the plan (docs/flink.md)",
    )
    if parallel:
        sub.add_argument(
            "--parallelism",
            type=int,
            default=1,
            metavar="N",
            help="with --engine flink: the Flink job's parallelism",
        )


def _file_and_params(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("file", help="the pipeline file (.rill)")
    sub.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a `param` of the pipeline",
    )


def _run_options(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no live view, progress lines or summary; warnings only",
    )
    run.add_argument(
        "--fresh", action="store_true", help="forget saved checkpoints and start from the beginning"
    )
    run.add_argument(
        "--drop-state",
        action="append",
        default=[],
        metavar="NAME",
        help="resume although operator NAME's saved state no longer fits (changed: it starts "
        "empty; removed: it is let go); `rillet diff FILE` names them",
    )
    run.add_argument(
        "--http",
        metavar="HOST:PORT",
        help="serve /metrics (Prometheus), /healthz and a dashboard at / while "
        "running; HOST defaults to 127.0.0.1, port 0 picks a free one",
    )
    run.add_argument(
        "--http-token",
        metavar="TOKEN",
        help="answer --http requests only with `Authorization: Bearer TOKEN`; "
        f"others can read it in a process listing, so prefer ${HTTP_TOKEN}",
    )
    run.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="log lines (warnings, alerts, checkpoints) as text or JSON lines",
    )
    run.add_argument(
        "--watch",
        action="store_true",
        help="run again each time the pipeline file (or a plugin file it uses) "
        "changes, until Ctrl-C",
    )


def _state_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--state-dir",
        metavar="DIR",
        help="where checkpoints are kept (default: .rillet/NAME beside FILE)",
    )
    sub.add_argument(
        "--state-store",
        metavar="URL",
        help="keep checkpoints in Redis (redis://HOST:PORT), shared by workers on several machines",
    )
    sub.add_argument(
        "--group",
        metavar="NAME",
        help="the name workers of one pipeline share (default: FILE's name)",
    )
    sub.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="run as N worker processes sharing the input through a broker",
    )


def _worker_options(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--worker-ids",
        metavar="I,J",
        help="which of the --workers this machine runs (default: all)",
    )
    run.add_argument(
        "--broker",
        metavar="URL",
        help="what carries records between workers: redis://HOST:PORT or kafka://HOST:PORT",
    )
    run.add_argument("--worker", type=int, help=argparse.SUPPRESS)  # run by `supervise`
    run.add_argument("--restarted", action="store_true", help=argparse.SUPPRESS)


_COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "run": ("run a pipeline", _run),
    "check": ("check a pipeline file without running it", _check),
    "test": ("run the pipeline file's `test` blocks", _file_and_params),
    "plugins": ("list the components plugins provide", _plugins),
    "checkpoints": ("list a pipeline's checkpoints", _checkpoints),
    "lineage": ("which pipeline and which input produced each checkpoint's output", _lineage),
    "diff": ("what resuming the edited pipeline would do with each operator's state", _diff),
    "graph": ("draw the pipeline's dataflow, sources to sinks", _graph),
    "explain": ("show the physical plan a run would execute", _explain),
    "fmt": ("rewrite pipeline files in the canonical layout", _fmt),
    "export": ("write the pipeline as a job for another engine", _export),
    "lsp": ("serve the language server protocol on stdio, for editors (docs/lsp.md)", _no_options),
}
