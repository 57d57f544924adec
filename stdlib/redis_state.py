"""Checkpoints kept in Redis (`rillet run --state-store redis://...`), so that workers on
several machines share one store and a worker's checkpoints outlive its machine.

The manifests of one worker are the fields of one hash, keyed by checkpoint id; the last few are
kept, as in the folder store. A hash field is written whole or not at all, so a reader never sees
half a manifest; each is sealed with a checksum (`runtime/envelope.py`), and one that fails it is
skipped with a warning for the one before. An incremental operator's state segments
(`runtime/segments.py`) are the fields of a second hash beside it, `<key>:segments`. How
durable a saved checkpoint is depends on the server's persistence settings (`appendonly yes`
with `appendfsync everysec` or `always`).
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext, suppress
from typing import Any

import msgspec

from rillet.runtime.plugin import (
    KEEP_CHECKPOINTS,
    ConnectorError,
    Corrupt,
    Manifest,
    not_saved,
    seal,
    unseal,
    without_state,
)

log = logging.getLogger(__name__)


class RedisCheckpointStore:
    def __init__(self, url: str, key: str, keep: int = KEEP_CHECKPOINTS) -> None:
        import redis  # imported when a run uses this store, not by every start-up

        self.url, self.key, self.keep = url, key, keep
        self.newest: Manifest | None = None
        """The newest checkpoint saved or found: the one a failed save leaves in force."""
        self.client: Any = redis.Redis.from_url(url)
        try:
            self.client.ping()
        except (redis.ConnectionError, OSError) as e:
            raise ConnectorError(
                f"state store: cannot reach Redis at {url}: {e}\n"
                "  hint: start Redis, or pass the right --state-store URL"
            ) from e

    def _ids(self) -> list[int]:
        return sorted((int(k) for k in self.client.hkeys(self.key)), reverse=True)

    def save(self, manifest: Manifest) -> None:
        import redis

        try:
            self.client.hset(
                self.key, str(manifest.checkpoint_id), seal(msgspec.msgpack.encode(manifest))
            )
        except redis.RedisError as e:  # Redis is asked nothing more: it may be gone
            raise not_saved(
                manifest.checkpoint_id, f"Redis ({self.key})", str(e).rstrip("."), self.newest
            ) from e
        self.newest = manifest
        with suppress(redis.RedisError):  # the next checkpoint tries again
            old = self._ids()[self.keep :]
            if old:
                self.client.hdel(self.key, *map(str, old))
        try:
            self.client.rpush(self._history, msgspec.json.encode(without_state(manifest)))
        except redis.RedisError as e:  # the checkpoint itself is saved
            log.warning(
                "cannot add checkpoint %d to %s: %s", manifest.checkpoint_id, self._history, e
            )

    @property
    def _segments(self) -> str:
        return f"{self.key}:segments"

    def put_segment(self, checkpoint_id: int, name: str, data: bytes) -> None:
        import redis

        try:
            self.client.hset(self._segments, name, data)
        except redis.RedisError as e:
            where = f"Redis ({self._segments})"
            raise not_saved(checkpoint_id, where, str(e).rstrip("."), self.newest) from e

    def get_segment(self, name: str) -> bytes:
        data = self.client.hget(self._segments, name)
        if data is None:
            raise KeyError(f"not in {self._segments}")
        return data

    def segment_names(self) -> list[str]:
        return [name.decode() for name in self.client.hkeys(self._segments)]

    def drop_segments(self, names: list[str]) -> None:
        import redis

        if names:
            with suppress(redis.RedisError):  # the next checkpoint tries again
                self.client.hdel(self._segments, *names)

    def _read(self, checkpoint_id: int) -> Manifest | None:
        data = self.client.hget(self.key, str(checkpoint_id))
        try:
            return None if data is None else msgspec.msgpack.decode(unseal(data), type=Manifest)
        except (Corrupt, msgspec.DecodeError, msgspec.ValidationError) as e:
            log.warning("skipping unreadable checkpoint %s in %s: %s", checkpoint_id, self.key, e)
            return None

    def latest(self) -> Manifest | None:
        for checkpoint_id in self._ids():
            manifest = self._read(checkpoint_id)
            if manifest is not None:
                self.newest = manifest
                return manifest
        return None

    def all(self) -> list[Manifest]:
        return [m for m in map(self._read, self._ids()) if m is not None]

    @property
    def _history(self) -> str:
        return f"{self.key}:history"

    def history(self) -> list[Manifest]:
        """Every checkpoint saved, less the operators' state: a list beside the hash."""
        entries = []
        for line in self.client.lrange(self._history, 0, -1):
            try:
                entries.append(msgspec.json.decode(line, type=Manifest))
            except (msgspec.DecodeError, msgspec.ValidationError) as e:
                log.warning("skipping an unreadable entry of %s: %s", self._history, e)
        return entries

    def clear(self) -> None:
        self.client.delete(self.key, self._history, self._segments)
        self.newest = None

    def hold(self) -> AbstractContextManager[None]:
        """Not locked: a lock in Redis would be a lease the run must keep renewing, and it would
        still not fence off a run that lost it while paused. Workers sharing this store run on
        the machines their --worker-ids give them, one machine per worker (docs/scale-out.md)."""
        return nullcontext()


__all__ = ["RedisCheckpointStore"]
