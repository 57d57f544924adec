"""Before a `--workers` run starts: does what Redis holds of the group's shuffles fit the
workers' checkpoints?

A shuffle's progress lives in two places: each producer's checkpoint (the epoch and generation
of its last commit) and Redis (its generation counter and which generation committed each epoch,
`shuffle.py`). A run over one of them without the other goes wrong quietly: with the
checkpoints deleted, the restarted producers count epochs from 1 again, find those epochs
already recorded for the earlier run and never record their own, so readers skip their records
and wait forever for their end; with Redis flushed, readers lose what was in flight. So the
supervisor compares the two before any worker starts, and stops when they disagree.
"""

from __future__ import annotations

from typing import Any

from rillet.runtime.plugin import ConnectorError, Manifest

FRESH = "rerun with --fresh to clear both and start over"


def _workers(ids: list[int]) -> str:
    return ("worker " if len(ids) == 1 else "workers ") + ", ".join(map(str, ids))


def mismatch(
    url: str, group: str, edges: list[str], checkpoints: dict[int, Manifest | None]
) -> str | None:
    """What disagrees between Redis at `url` and the latest checkpoint of each of these workers
    (None when nothing does), as one line that says what to do."""
    import redis  # imported when a run has workers, not by every start-up

    client: Any = redis.Redis.from_url(url)
    stale: list[int] = []
    try:
        for worker, manifest in checkpoints.items():
            for edge in edges:
                key = f"rillet:{group}:{edge}"
                generation = client.get(f"{key}:gen:{worker}")
                commits = {
                    int(e): int(g) for e, g in client.hgetall(f"{key}:commits:{worker}").items()
                }
                if manifest is None or edge not in manifest.sinks:
                    if commits:  # a commit follows a saved checkpoint: there was one
                        stale.append(worker)
                        break
                    continue
                epoch, own = manifest.sinks[edge]["epoch"], manifest.sinks[edge]["generation"]
                if generation is None or int(generation) < own:
                    return (
                        f"Redis at {url} holds no shuffle `{edge}` of group `{group}`, "
                        f"yet worker {worker}'s checkpoint {manifest.checkpoint_id} "
                        "continues one (was Redis flushed, or did the earlier run use "
                        f"another --broker?); {FRESH}"
                    )
                if commits.get(epoch, own) != own or max(commits, default=0) > epoch:
                    return (
                        f"shuffle `{edge}` of group `{group}` in Redis at {url} does not "
                        f"match worker {worker}'s checkpoint {manifest.checkpoint_id}: "
                        f"they come from different runs; {FRESH}"
                    )
    except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
        raise ConnectorError(
            f"cannot reach the broker at {url}: {e}; start Redis, or pass the right --broker URL"
        ) from e
    finally:
        client.close()
    if stale:
        return (
            f"Redis at {url} holds shuffles of group `{group}` from an earlier run, but "
            f"{_workers(stale)} {'has' if len(stale) == 1 else 'have'} no checkpoint that "
            f"continues them (deleted?), so the run would wait for them forever; {FRESH}"
        )
    return None


__all__ = ["mismatch"]
