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
import sys
from contextlib import ExitStack
from pathlib import Path

import anyio

from rillet.runtime import Registry, stores
from rillet.runtime.checkpoint import CheckpointStore
from rillet.runtime.clock import SystemClock
from rillet.runtime.partition import partition_plan
from rillet.runtime.plan import Plan, Source
from rillet.runtime.supervisor import supervise as supervise_workers

from .pipeline import compile_file


class WorkerSetupError(Exception):
    """The pipeline or the command line does not allow running as workers (exit 2)."""


def group_of(args: argparse.Namespace) -> str:
    return args.group or Path(args.file).stem


def _prefix(args: argparse.Namespace) -> str:
    return f"rillet:{group_of(args)}"


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
            "--workers needs --broker redis://HOST:PORT or kafka://HOST:PORT, the broker "
            "that carries records between workers"
        )


def checkpoint_store(
    args: argparse.Namespace, registry: Registry, worker: int | None = None
) -> CheckpointStore:
    """Where this run, or its worker `worker`, keeps its checkpoints (`runtime/stores.py`)."""
    return stores.checkpoint_store(
        registry,
        args.file,
        state_dir=args.state_dir,
        state_store=args.state_store,
        group=group_of(args),
        worker=worker,
    )


def worker_plan(plan: Plan, registry: Registry, args: argparse.Namespace) -> Plan:
    """The plan worker `args.worker` runs: its shuffles go through the `--broker`."""
    for node in plan.nodes:
        if not isinstance(node.op, Source):
            continue
        for part in node.op.parts:  # each part of a hybrid source
            spec = registry.get("source", part.connector)
            if spec is None or not spec.shared:
                raise WorkerSetupError(
                    f"source `{node.op.name}` ({part.connector}) cannot be shared by "
                    "workers: each would read all of it\n  hint: read the input from a broker "
                    "(redis_stream, nats), whose consumer group gives each worker its share"
                )
    connector = stores.broker(registry, args.broker).shuffle
    return partition_plan(plan, args.broker, _prefix(args), connector)[0]


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
    for name in args.drop_state:  # each worker resumes from its own checkpoints
        command += ["--drop-state", name]
    if args.quiet:
        command.append("-q")
    return command


def _shuffles(args: argparse.Namespace, connector: str) -> list[str]:
    """The pipeline's shuffle edges. The supervisor is handed only the command line, so it
    compiles the file again (the run has just compiled it cleanly)."""
    params = {name.strip(): value for name, _, value in (p.partition("=") for p in args.param)}
    plan = compile_file(args.file, params).plan
    assert plan is not None
    shuffles = partition_plan(plan, args.broker, _prefix(args), connector)[1]
    return [shuffle.name for shuffle in shuffles]


def _check_shuffles(args: argparse.Namespace, registry: Registry, ids: list[int]) -> None:
    """Stop before any worker starts when the broker and these workers' checkpoints disagree
    about the shuffles: a run over them would hang or lose records."""
    broker = stores.broker(registry, args.broker)
    edges = _shuffles(args, broker.shuffle)
    if not edges:
        return
    checkpoints = {w: checkpoint_store(args, registry, w).latest() for w in ids}
    problem = broker.mismatch(group_of(args), edges, checkpoints)
    if problem is not None:
        raise WorkerSetupError(problem)


def _fresh(args: argparse.Namespace, registry: Registry, ids: list[int]) -> None:
    """Forget what these workers did: their checkpoints and, for all workers, the shuffles."""
    for worker in ids:
        checkpoint_store(args, registry, worker).clear()
    anyio.run(stores.broker(registry, args.broker).clear, _prefix(args), SystemClock())


def supervise(args: argparse.Namespace, registry: Registry) -> int:
    """Run this machine's workers until each has finished (`runtime/supervisor.py`)."""
    ids = worker_ids(args)
    with ExitStack() as held:  # no other run is using these workers' state while it is changed
        for worker in ids:
            held.enter_context(checkpoint_store(args, registry, worker).hold())
        if args.fresh:
            _fresh(args, registry, ids)
        else:
            _check_shuffles(args, registry, ids)

    def command(worker: int, restarted: bool) -> list[str]:
        return _command(args, worker, restarted)

    return anyio.run(supervise_workers, ids, command, SystemClock())


__all__ = [
    "WorkerSetupError",
    "check_args",
    "checkpoint_store",
    "group_of",
    "supervise",
    "worker_plan",
]
