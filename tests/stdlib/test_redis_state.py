"""Checkpoints kept in a real Redis (stdlib/redis_state.py): a damaged manifest is skipped for the
one before it, one written before manifests were sealed still loads, and a checkpoint Redis did
not take is one line saying which one a rerun resumes from."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import msgspec
import pytest
import redis

from rillet.runtime.failure import CheckpointNotSaved
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
    store: RedisCheckpointStore, caplog: pytest.LogCaptureFixture
) -> None:
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


def test_checkpoint_redis_did_not_take_says_which_one_is_kept(store: RedisCheckpointStore) -> None:
    store.save(full_manifest(1))
    reachable, store.client = store.client, redis.Redis.from_url("redis://127.0.0.1:1/0")
    try:  # Redis went away
        with pytest.raises(CheckpointNotSaved) as caught:
            store.save(full_manifest(2))
    finally:
        store.client = reachable
    assert str(caught.value) == (
        f"cannot save checkpoint 2 to Redis ({store.key}): Error 111 connecting to "
        "127.0.0.1:1. Connection refused; checkpoint 1 is kept and a rerun resumes from it"
    )
    assert store.latest() == full_manifest(1)
