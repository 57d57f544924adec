"""`rillet run`: compile, place this process's part (alone, supervising --workers, or as one
worker), resume from the last checkpoint, run under the monitor until the input ends or a
signal stops it, and say what happened in one summary or one line. `--watch` reruns it on each
edit (`watch.py`)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import os
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import anyio

from rillet.runtime import RecordError, Registry, RunMetrics, first_failure
from rillet.runtime.checkpoint import CheckpointStore, Manifest
from rillet.runtime.connector import ConnectorError
from rillet.runtime.failure import StateMismatch
from rillet.runtime.monitor.checkpointsummary import checkpoint_lines
from rillet.runtime.monitor.logs import configure as configure_logging
from rillet.runtime.monitor.monitor import Monitor
from rillet.runtime.plan import Plan, Sink
from rillet.runtime.run import Execution, prepare
from rillet.runtime.sinkguard import guard_sinks
from rillet.runtime.statefolder import StateFolderError
from rillet.runtime.stores import BrokerError

from .arguments import HTTP_TOKEN
from .identity import changed_since, identity
from .invocation import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    mask_output,
    params_of,
    report,
)
from .pipeline import compile_file
from .stopping import Stopper, exit_code, handling
from .watch import Watching, edit_run_loop
from .workers import WorkerSetupError, check_args, checkpoint_store, supervise, worker_plan


def _speed(records: int, busy_s: float) -> str:
    """Records per busy second of one node: the lowest is the pipeline's hot spot."""
    if busy_s <= 0 or records == 0:
        return ""
    return f"   {records / busy_s:,.0f}/s busy {busy_s:.2f} s"


def _summary(metrics: RunMetrics) -> str:
    """What each node did; for a straight pipeline, read = written + filtered + errors. Each
    node also shows its speed: records in per second it was busy (a source: read and decoded)."""
    lines = [f"rillet: finished in {metrics.elapsed_s:.2f} s"]
    for m in metrics.by_kind("source"):
        bad = f"   bad {m.errors:,}" if m.errors else ""
        read = m.records_out + m.errors
        lines.append(f"  source {m.name:<24} read  {read:>11,}{bad}{_speed(read, m.busy_s)}")
    for m in [*metrics.by_kind("stage"), *metrics.by_kind("operator")]:
        filtered = m.records_in - m.records_out - m.errors - m.late
        detail = f"   filtered {filtered:,}" if filtered > 0 and m.kind == "stage" else ""
        detail += f"   late {m.late:,}" if m.late else ""
        detail += f"   errors {m.errors:,}" if m.errors else ""
        kind = "stage " if m.kind == "stage" else "op    "
        lines.append(
            f"  {kind} {m.name:<24} in    {m.records_in:>11,}   out "
            f"{m.records_out:,}{detail}{_speed(m.records_in, m.busy_s)}"
        )
    lines.extend(
        f"  sink   {m.name:<24} wrote {m.records_in:>11,}{_speed(m.records_in, m.busy_s)}"
        for m in metrics.by_kind("sink")
    )
    lines.extend(checkpoint_lines(metrics.checkpoints))
    return "\n".join(lines)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Compiling makes objects that live as long as the run (the plan, the registry and the
    plugins it imports), so the cyclic collector would only walk them in vain."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _tune_gc() -> None:
    """Before running: the objects of start-up (modules, grammar, plan) are never garbage, so
    move them out of the collector's sight (`freeze`), and collect less often: a run allocates
    batches of records at a high rate, nearly all freed by reference counting, and the default
    thresholds spend much of a windowed run re-scanning its open windows. No collection first:
    the little garbage of start-up is not worth a pass over every object (20 ms)."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


GC_THRESHOLDS = (10_000, 20, 100)  # the defaults are (700, 10, 10)


def _backend_options() -> dict[str, Any]:
    """uvloop's event loop when it is installed (the `bench` extra), asyncio's otherwise."""
    return {"use_uvloop": True} if importlib.util.find_spec("uvloop") is not None else {}


Beside = Callable[[Execution], Coroutine[Any, Any, None]]
"""What runs beside a run and is given it (the file watcher of --watch)."""


async def _run_until_signalled(
    execution: Execution, monitor: Monitor, stopper: Stopper, beside: Beside | None = None
) -> RunMetrics:
    """Run, watched by `monitor` (and `beside`, with --watch); the first SIGINT or SIGTERM
    stops the run after a last checkpoint, or at once if that takes more than a few seconds; a
    second one at once (`stopping.py`)."""
    stopper.attach(asyncio.get_running_loop().call_soon_threadsafe)
    async with anyio.create_task_group() as tg:
        tg.start_soon(monitor.run)
        if beside is not None:
            tg.start_soon(beside, execution)
        metrics = await execution.run()
        tg.cancel_scope.cancel()
    return metrics


def _resumes_from(saved: Manifest | None) -> str:
    if saved is None:
        return "no checkpoint was saved: the next run starts from the beginning"
    return f"the next run resumes from checkpoint {saved.checkpoint_id}"


def _display(args: argparse.Namespace, plan: Plan) -> str:
    """The live view on a terminal; plain lines when standard error is not one, when logs are
    JSON, or when a `stdout()` sink prints to the same terminal (it would tear the view);
    nothing with --quiet."""
    if args.quiet:
        return "none"
    if args.log_format == "json" or not sys.stderr.isatty():
        return "plain"
    prints = any(isinstance(n.op, Sink) and n.op.connector == "stdout" for n in plan.nodes)
    return "plain" if prints and sys.stdout.isatty() else "live"


@contextmanager
def _serving(monitor: Monitor, http: str | None, token: str | None) -> Iterator[None]:
    """With --http, serve the metrics and the dashboard while the block runs."""
    if http is None:
        yield
        return
    from rillet.runtime.monitor.server import (  # prometheus: only for --http
        MonitorServer,
        parse_address,
    )

    try:
        server = MonitorServer(monitor, parse_address(http), token)
    except OSError as e:
        raise SystemExit(f"rillet: error: --http {http}: {e.strerror or e}") from None
    server.start()
    try:
        yield
    finally:
        monitor.running = False
        server.close()


def _http_token(args: argparse.Namespace) -> str | None:
    """The token --http requests must carry: --http-token, else $RILLET_HTTP_TOKEN (which,
    unlike an argument, other users cannot see in a process listing), else none. A malformed
    --http, or a token that cannot travel in a header, is a usage error before anything runs."""
    if args.http is None:
        if args.http_token is not None:
            raise SystemExit("rillet: error: --http-token needs --http")
        return None
    from rillet.runtime.monitor.server import parse_address

    try:
        parse_address(args.http)
    except ValueError as e:
        raise SystemExit(f"rillet: error: {e}") from None
    token = args.http_token if args.http_token is not None else os.environ.get(HTTP_TOKEN)
    if token is not None and not (
        token and token.isascii() and token.isprintable() and " " not in token
    ):
        where = "--http-token" if args.http_token is not None else HTTP_TOKEN
        raise SystemExit(
            f"rillet: error: {where}: a token is one or more printable ASCII "
            "characters without spaces"
        )
    return token


def cmd_run(args: argparse.Namespace, watching: Watching | None = None) -> int:
    if args.watch and watching is None:
        if args.workers > 1 or args.worker is not None:
            print(
                "rillet: error: --watch runs one process; it cannot be combined with --workers",
                file=sys.stderr,
            )
            return EXIT_USAGE
        params_of(args.param)  # a malformed -p is a usage error at once, not after each edit
        _http_token(args)  # a malformed --http or token is a usage error at once too
        return edit_run_loop(args, cmd_run)
    with ExitStack() as held:  # the state folder, held from before the run touches it to its end
        return _run(args, held, watching)


def _run(args: argparse.Namespace, held: ExitStack, watching: Watching | None) -> int:
    configure_logging(args.log_format, args.quiet)
    token = _http_token(args)
    with _collector_paused():
        compiled = compile_file(args.file, params_of(args.param))
    if not compiled.ok:
        report(compiled, False)
        return EXIT_USAGE
    assert compiled.plan is not None and compiled.checked is not None
    plan, registry = compiled.plan, guard_sinks(compiled.checked.registry)
    mask_output(plan, stdout=False)
    if not plan.nodes:
        print(f"rillet: {args.file}: no flow writes to a sink; nothing to run", file=sys.stderr)
        return EXIT_OK
    placed = _place(args, plan, registry, held)
    if isinstance(placed, int):
        return placed
    plan, store = placed
    resume = _resume_from(args, store, watching)
    pipeline = identity(
        compiled.source.text, params_of(args.param), plan.plugins, Path(plan.base_dir)
    )
    changed = changed_since(resume, pipeline) if resume is not None else None
    if changed is not None:
        print(f"rillet: warning: {changed}", file=sys.stderr)
    execution: Execution | None = None
    try:
        execution = prepare(
            plan,
            registry,
            store=store,
            resume=resume,
            worker=(args.worker or 0, args.workers),
            extend_finished=not args.restarted,
            pipeline=pipeline,
            drop_state=frozenset(args.drop_state),
        )
        monitor = Monitor(execution, _display(args, plan), Path(args.file).name)
        running = execution
        stopper = Stopper(running.request_stop, lambda: _resumes_from(running.last_saved or resume))
        with handling(stopper), _serving(monitor, args.http, token):
            _tune_gc()
            metrics = anyio.run(
                _run_until_signalled,
                execution,
                monitor,
                stopper,
                watching.stop_on_change if watching is not None else None,
                backend_options=_backend_options(),
            )
        signum = stopper.received
    except KeyboardInterrupt:
        print("rillet: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BaseException as e:
        saved = execution.last_saved if execution is not None else None
        return _failed(e, saved or resume, watching)
    return _finished(args, metrics, signum, resume)


def _place(
    args: argparse.Namespace, plan: Plan, registry: Registry, held: ExitStack
) -> int | tuple[Plan, CheckpointStore]:
    """Where this process's part of the run goes: the supervisor of --workers runs them all
    (its exit code), a worker runs its part of the plan, with the shuffles between workers;
    and the checkpoint store it holds for the run."""
    try:
        check_args(args)
        if args.workers > 1 and args.worker is None:
            worker_plan(plan, registry, args)  # what no worker can run is refused here, once
            return supervise(args, registry)
        if args.worker is not None:
            plan = worker_plan(plan, registry, args)
        store = checkpoint_store(args, registry, args.worker)
        held.enter_context(store.hold())
    except (WorkerSetupError, StateFolderError, BrokerError) as e:
        print(f"rillet: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except ConnectorError as e:
        print(f"rillet: error: {e}", file=sys.stderr)
        return EXIT_FAILED
    return plan, store


def _resume_from(
    args: argparse.Namespace, store: Any, watching: Watching | None
) -> Manifest | None:
    """The checkpoint this run goes on from, if any."""
    if args.fresh:
        store.clear()
    resume = store.latest()
    if watching is not None and watching.after_change and resume is not None and resume.finished:
        print(
            "rillet: the last run had read every input to its end: starting over (as --fresh "
            "would), so that the outputs show the edit",
            file=sys.stderr,
        )
        store.clear()
        resume = None
    return resume


def _failed(error: BaseException, saved: Manifest | None, watching: Watching | None) -> int:
    """Report a run that failed in one line meant for the pipeline's author; its exit code."""
    if isinstance(error, BaseExceptionGroup) and error.subgroup(KeyboardInterrupt) is not None:
        print("rillet: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    failure = first_failure(error)
    if failure is None:
        raise error
    if isinstance(failure, StateMismatch) and watching is not None:
        watching.mismatch = str(failure).split("\n")[0]  # without its hint to use --fresh
        return EXIT_USAGE
    print(f"rillet: error: {failure}", file=sys.stderr)
    if isinstance(failure, RecordError):
        print(_stopped_on_record(saved), file=sys.stderr)
    return EXIT_USAGE if isinstance(failure, StateMismatch) else EXIT_FAILED


def _finished(
    args: argparse.Namespace, metrics: RunMetrics, signum: int | None, resume: Manifest | None
) -> int:
    """Report a run that ended by itself or was stopped; its exit code."""
    read = sum(m.records_out + m.errors for m in metrics.by_kind("source"))
    if resume is not None and resume.finished and read == 0 and signum is None:
        print(
            f"rillet: nothing left to do: every input was read to its end "
            f"(checkpoint {resume.checkpoint_id}); --fresh starts over",
            file=sys.stderr,
        )
        return EXIT_OK
    if not args.quiet:
        if resume is not None:
            print(f"rillet: resumed from checkpoint {resume.checkpoint_id}", file=sys.stderr)
        print(_summary(metrics), file=sys.stderr)
    if signum is not None:
        print(f"rillet: stopped; `rillet run {args.file}` resumes", file=sys.stderr)
        return exit_code(signum)
    return EXIT_OK


def _stopped_on_record(saved: Manifest | None) -> str:
    """What the outputs hold after a bad record stopped the run: the records read with it and
    after it were not written; the next run goes on from the last checkpoint."""
    if saved is None:
        return (
            "  no checkpoint was saved: the next run starts from the beginning (an output "
            "this run began to write is written again from its start)"
        )
    return (
        f"  the outputs hold what checkpoint {saved.checkpoint_id} committed, and the next "
        "run goes on from there (cutting back what was written after it); the records "
        "read since, those before the bad one included, are not in them"
    )
