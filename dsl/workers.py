"""`rillet run FILE --workers N`: one pipeline run by several worker processes, on one machine or
several, with a broker between them and no cluster of rillet's own.

Partition ownership is static and simple: worker `i` of `N` reads its share of each input
through the broker's consumer group (its own consumer name), owns partition `i` of every shuffle
(`runtime/partition.py`, `stdlib/shuffle.py`), and keeps its checkpoints under its own name
(`worker-i`, in the state folder or the shared `--state-store`). A machine runs the workers named
by `--worker-ids` (all of them by default); the supervisor restarts a worker that dies, and the
restarted worker resumes from its last checkpoint, so nothing is lost or doubled. Several
machines run the same command with the same `--group`, `--broker` and `--state-store`, each with
its own `--worker-ids`.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import anyio

from rillet.runtime import Registry
from rillet.runtime.checkpoint import CheckpointStore, FileCheckpointStore
from rillet.runtime.clock import SystemClock
from rillet.runtime.connectors import sink_context, source_context
from rillet.runtime.partition import partition_plan
from rillet.runtime.plan import Plan, Source
from rillet.stdlib.shuffle import ShuffleSink, ShuffleSource, clear

from .pipeline import compile_file
from .shuffle_check import mismatch

MAX_RESTARTS = 50
"""A worker that keeps dying is given up on after this many restarts: the run fails."""
RESTART_DELAY_S = 0.5


class WorkerSetupError(Exception):
    """The pipeline or the command line does not allow running as workers (exit 2)."""


def group_of(args: argparse.Namespace) -> str:
    return args.group or Path(args.file).stem


def worker_ids(args: argparse.Namespace) -> list[int]:
    if not args.worker_ids:
        return list(range(args.workers))
    try:
        ids = sorted({int(part) for part in args.worker_ids.split(",")})
    except ValueError:
        raise WorkerSetupError(
            f"--worker-ids expects numbers like 0,1, got `{args.worker_ids}`"
        ) from None
    if not all(0 <= i < args.workers for i in ids):
        raise WorkerSetupError(f"--worker-ids must be between 0 and {args.workers - 1}")
    return ids


def check_args(args: argparse.Namespace) -> None:
    if args.workers < 1:
        raise WorkerSetupError("--workers must be at least 1")
    if args.workers > 1 and not args.broker:
        raise WorkerSetupError(
            "--workers needs --broker redis://HOST:PORT, the Redis that "
            "carries records between workers"
        )


def worker_store(args: argparse.Namespace, worker: int) -> CheckpointStore:
    """Where worker `worker` keeps its checkpoints: a folder of its own, or the shared store."""
    name = f"worker-{worker}"
    if args.state_store:
        from rillet.stdlib.redis_state import RedisCheckpointStore

        return RedisCheckpointStore(args.state_store, f"rillet:{group_of(args)}:state:{name}")
    if args.state_dir:
        return FileCheckpointStore(Path(args.state_dir) / name)
    pipeline = Path(args.file).resolve()
    return FileCheckpointStore(pipeline.parent / ".rillet" / pipeline.stem / name)


def worker_plan(
    plan: Plan, registry: Registry, args: argparse.Namespace
) -> tuple[Plan, dict[str, Any], dict[str, Any]]:
    """The plan worker `args.worker` runs, with the shuffle connectors it needs."""
    for node in plan.nodes:
        if isinstance(node.op, Source):
            spec = registry.get("source", node.op.connector)
            if spec is None or not spec.shared:
                raise WorkerSetupError(
                    f"source `{node.op.name}` ({node.op.connector}) cannot be shared by "
                    "workers: each would read all of it\n  hint: read the input from a broker "
                    "(redis_stream, nats), whose consumer group gives each worker its share"
                )
    partitioned, shuffles = partition_plan(plan)
    prefix = f"rillet:{group_of(args)}"
    worker, clock = (args.worker, args.workers), SystemClock()
    sources: dict[str, Any] = {}
    sinks: dict[str, Any] = {}
    for shuffle in shuffles:
        sinks[shuffle.name] = ShuffleSink(
            args.broker,
            prefix,
            shuffle.name,
            shuffle.keys,
            sink_context(plan, shuffle.name, clock, worker),
        )
        sources[shuffle.name] = ShuffleSource(
            args.broker,
            prefix,
            shuffle.name,
            source_context(plan, shuffle.name, None, clock, worker),
        )
    return partitioned, sources, sinks


def _command(args: argparse.Namespace, worker: int, restarted: bool = False) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "rillet.dsl.cli",
        "run",
        args.file,
        "--worker",
        str(worker),
        "--workers",
        str(args.workers),
        "--broker",
        args.broker,
        "--group",
        group_of(args),
    ]
    if restarted:  # it may have finished before it died: then the others need nothing more
        command.append("--restarted")
    for option in ("state_dir", "state_store"):
        if getattr(args, option):
            command += [f"--{option.replace('_', '-')}", getattr(args, option)]
    for pair in args.param:
        command += ["-p", pair]
    if args.quiet:
        command.append("-q")
    return command


def _shuffles(args: argparse.Namespace) -> list[str]:
    """The pipeline's shuffle edges. The supervisor is handed only the command line, so it
    compiles the file again (the run has just compiled it cleanly)."""
    params = {name.strip(): value for name, _, value in (p.partition("=") for p in args.param)}
    plan = compile_file(args.file, params).plan
    assert plan is not None
    return [shuffle.name for shuffle in partition_plan(plan)[1]]


def _check_shuffles(args: argparse.Namespace, ids: list[int]) -> None:
    """Stop before any worker starts when Redis and these workers' checkpoints disagree about
    the shuffles: a run over them would hang or lose records (`shuffle_check.py`)."""
    edges = _shuffles(args)
    if not edges:
        return
    checkpoints = {worker: worker_store(args, worker).latest() for worker in ids}
    problem = mismatch(args.broker, group_of(args), edges, checkpoints)
    if problem is not None:
        raise WorkerSetupError(problem)


def _fresh(args: argparse.Namespace, ids: list[int]) -> None:
    """Forget what these workers did: their checkpoints and, for all workers, the shuffles."""
    for worker in ids:
        worker_store(args, worker).clear()
    anyio.run(clear, args.broker, f"rillet:{group_of(args)}")


def supervise(args: argparse.Namespace) -> int:
    """Run this machine's workers until each has finished; restart one that dies."""
    ids = worker_ids(args)
    with ExitStack() as held:  # no other run is using these workers' state while it is changed
        for worker in ids:
            held.enter_context(worker_store(args, worker).hold())
        if args.fresh:
            _fresh(args, ids)
        else:
            _check_shuffles(args, ids)
    running: dict[int, subprocess.Popen] = {}
    restarts = dict.fromkeys(ids, 0)
    stopping: list[int] = []

    def stop(signum: int, _frame: Any) -> None:
        stopping.append(signum)
        for process in running.values():
            process.send_signal(signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for worker in ids:
            running[worker] = subprocess.Popen(_command(args, worker))
        while running:
            time.sleep(0.1)
            for worker, process in list(running.items()):
                code = process.poll()
                if code is None:
                    continue
                del running[worker]
                if code == 0 or stopping:
                    continue
                if code == 2:  # a mistake in the file or the command: restarting cannot help
                    stop(signal.SIGTERM, None)
                    return 2
                restarts[worker] += 1
                if restarts[worker] > MAX_RESTARTS:
                    print(
                        f"rillet: worker {worker} failed {MAX_RESTARTS} times; giving up",
                        file=sys.stderr,
                    )
                    stop(signal.SIGTERM, None)
                    return 1
                how = f"signal {-code}" if code < 0 else f"exit code {code}"
                print(
                    f"rillet: worker {worker} stopped ({how}); restarting it from its last "
                    "checkpoint",
                    file=sys.stderr,
                )
                time.sleep(RESTART_DELAY_S)
                running[worker] = subprocess.Popen(_command(args, worker, restarted=True))
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if stopping:
        return 130 if stopping[0] == signal.SIGINT else 143
    return 0


__all__ = ["WorkerSetupError", "check_args", "supervise", "worker_plan", "worker_store"]
