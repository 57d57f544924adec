"""Before a `--workers` run starts: does what the broker holds of the group's shuffles fit the
workers' checkpoints?

A shuffle's progress lives in two places: each producer's checkpoint (the epoch and generation
of its last commit) and the broker (its generation counter and which generation committed each
epoch, `shufflebook.py`). A run over one of them without the other goes wrong quietly: with the
checkpoints deleted, the restarted producers count epochs from 1 again, find those epochs
already recorded for the earlier run and never record their own, so readers skip their records
and wait forever for their end; with the broker emptied, readers lose what was in flight. So the
supervisor compares the two before any worker starts, and stops when they disagree.
"""

from __future__ import annotations

from collections.abc import Callable

from rillet.runtime.plugin import Manifest

FRESH = "rerun with --fresh to clear both and start over"


def _workers(ids: list[int]) -> str:
    return ("worker " if len(ids) == 1 else "workers ") + ", ".join(map(str, ids))


Ledger = Callable[[str, int], tuple[int | None, dict[int, int]]]
"""What a broker holds of one producer on one shuffle, `(edge, worker)`: the producer's newest
generation (None: it never started) and which generation committed each epoch."""


def mismatch(
    where: str,
    ledger: Ledger,
    group: str,
    edges: list[str],
    checkpoints: dict[int, Manifest | None],
) -> str | None:
    """What disagrees between the broker (`where`: "Redis at URL") and the latest checkpoint of
    each of these workers (None when nothing does), as one line that says what to do."""
    stale: list[int] = []
    for worker, manifest in checkpoints.items():
        for edge in edges:
            generation, commits = ledger(edge, worker)
            if manifest is None or edge not in manifest.sinks:
                if commits:  # a commit follows a saved checkpoint: there was one
                    stale.append(worker)
                    break
                continue
            epoch, own = manifest.sinks[edge]["epoch"], manifest.sinks[edge]["generation"]
            if generation is None or generation < own:
                return (
                    f"{where} holds no shuffle `{edge}` of group `{group}`, "
                    f"yet worker {worker}'s checkpoint {manifest.checkpoint_id} "
                    "continues one (was the broker emptied, or did the earlier run use "
                    f"another --broker?); {FRESH}"
                )
            if commits.get(epoch, own) != own or max(commits, default=0) > epoch:
                return (
                    f"shuffle `{edge}` of group `{group}` in {where} does not "
                    f"match worker {worker}'s checkpoint {manifest.checkpoint_id}: "
                    f"they come from different runs; {FRESH}"
                )
    if stale:
        return (
            f"{where} holds shuffles of group `{group}` from an earlier run, but "
            f"{_workers(stale)} {'has' if len(stale) == 1 else 'have'} no checkpoint that "
            f"continues them (deleted?), so the run would wait for them forever; {FRESH}"
        )
    return None


__all__ = ["Ledger", "mismatch"]
