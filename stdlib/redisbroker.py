"""Redis as the broker of a `--workers` run: the shuffles between workers (`shuffle.py`), the
check that they fit the workers' checkpoints (`shufflecheck.py`) and, with `--state-store`, the
workers' checkpoints (`redis_state.py`)."""

from __future__ import annotations

from typing import Any

from rillet.runtime.plugin import Clock, ConnectorError, Manifest, Plugin

from .extras import REDIS
from .redis_state import RedisCheckpointStore
from .shuffle import clear
from .shufflecheck import mismatch

plugin = Plugin("std")


@plugin.broker("redis", needs=REDIS)
class RedisBroker:
    """Redis carries the records between workers and can keep their checkpoints."""

    shuffle = "shuffle"

    def __init__(self, url: str) -> None:
        self.url = url

    def checkpoint_store(self, key: str) -> RedisCheckpointStore:
        return RedisCheckpointStore(self.url, key)

    async def clear(self, prefix: str, clock: Clock) -> int:
        return await clear(self.url, prefix, clock)

    def mismatch(
        self, group: str, edges: list[str], checkpoints: dict[int, Manifest | None]
    ) -> str | None:
        import redis  # imported when a run has workers, not by every start-up

        client: Any = redis.Redis.from_url(self.url)

        def ledger(edge: str, worker: int) -> tuple[int | None, dict[int, int]]:
            key = f"rillet:{group}:{edge}"
            generation = client.get(f"{key}:gen:{worker}")
            commits = client.hgetall(f"{key}:commits:{worker}")
            return (
                None if generation is None else int(generation),
                {int(e): int(g) for e, g in commits.items()},
            )

        try:
            return mismatch(f"Redis at {self.url}", ledger, group, edges, checkpoints)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
            raise ConnectorError(
                f"cannot reach the broker at {self.url}: {e}; start Redis, or pass the "
                "right --broker URL"
            ) from e
        finally:
            client.close()


__all__ = ["RedisBroker", "plugin"]
