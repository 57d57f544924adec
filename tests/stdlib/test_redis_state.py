"""Checkpoints kept in a real Redis (stdlib/redis_state.py): a damaged manifest is skipped for the
one before it, and one written before manifests were sealed still loads."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import msgspec
import pytest

from rillet.stdlib.redis_state import RedisCheckpointStore
from tests.runtime.test_checkpoint import full_manifest
from tests.servers import REDIS, redis_client


@pytest.fixture
def store() -> Iterator[RedisCheckpointStore]:
    redis_client()
    store = RedisCheckpointStore(REDIS.url, f"rillet:test-{uuid.uuid4().hex}:state")
    yield store
    store.clear()


def test_every_damaged_byte_of_a_checkpoint_falls_back_to_the_one_before(
        store: RedisCheckpointStore, caplog: pytest.LogCaptureFixture) -> None:
    store.save(full_manifest(1))
    store.save(full_manifest(2))
    sealed = store.client.hget(store.key, "2")
    for position in range(len(sealed)):
        damaged = bytearray(sealed)
        damaged[position] ^= 1 << position % 8
        store.client.hset(store.key, "2", bytes(damaged))
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert store.latest() == full_manifest(1), f"byte {position} went unnoticed"
        assert "skipping unreadable checkpoint 2" in caplog.text


def test_checkpoint_without_a_checksum_still_loads(store: RedisCheckpointStore) -> None:
    store.client.hset(store.key, "4", msgspec.msgpack.encode(full_manifest(4)))
    assert store.latest() == full_manifest(4)
