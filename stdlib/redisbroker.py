"""Redis as the broker of a `--workers` run: the shuffles between workers (`shuffle.py`), the
check that they fit the workers' checkpoints (`shufflecheck.py`) and, with `--state-store`, the
workers' checkpoints (`redis_state.py`)."""

from __future__ import annotations

from rillet.runtime.plugin import Clock, Manifest, Plugin

from .extras import REDIS
from .redis_state import RedisCheckpointStore
from .shuffle import clear
from .shufflecheck import mismatch

plugin = Plugin("std")


@plugin.broker("redis", needs=REDIS)
class RedisBroker:
    """Redis carries the records between workers and can keep their checkpoints."""

    def __init__(self, url: str) -> None:
        self.url = url

    def checkpoint_store(self, key: str) -> RedisCheckpointStore:
        return RedisCheckpointStore(self.url, key)

    async def clear(self, prefix: str, clock: Clock) -> int:
        return await clear(self.url, prefix, clock)

    def mismatch(
        self, group: str, edges: list[str], checkpoints: dict[int, Manifest | None]
    ) -> str | None:
        return mismatch(self.url, group, edges, checkpoints)


__all__ = ["RedisBroker", "plugin"]
