"""Where checkpoints are kept is chosen in one place (`runtime/stores.py`): beside the pipeline
file, in `--state-dir`, or in the store of the broker `--state-store` names, a worker's in a
place of its own; a URL no installed broker serves is refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from rillet.runtime.checkpoint import FileCheckpointStore
from rillet.runtime.plugin import Registry
from rillet.runtime.segments import SegmentedStore
from rillet.runtime.stores import BrokerError, checkpoint_store
from rillet.stdlib import plugin as std
from rillet.stdlib.redis_state import RedisCheckpointStore
from tests.servers import REDIS, ensure

REGISTRY = Registry.from_plugins([std])


def folder_of(store: object) -> Path:
    assert isinstance(store, SegmentedStore)  # both stores keep incremental state
    assert isinstance(store.store, FileCheckpointStore)
    return store.store.folder


def test_checkpoints_are_kept_beside_the_pipeline_or_in_the_state_dir(tmp_path: Path) -> None:
    file = str(tmp_path / "clicks.rill")
    beside = checkpoint_store(REGISTRY, file, state_dir=None, state_store=None, group="g")
    assert folder_of(beside) == tmp_path / ".rillet" / "clicks"
    worker = checkpoint_store(REGISTRY, file, state_dir=None, state_store=None, group="g", worker=1)
    assert folder_of(worker) == tmp_path / ".rillet" / "clicks" / "worker-1"
    chosen = checkpoint_store(REGISTRY, file, state_dir="/s", state_store=None, group="g")
    assert folder_of(chosen) == Path("/s")


def test_a_state_store_url_is_served_by_the_broker_of_its_scheme(tmp_path: Path) -> None:
    ensure(REDIS)
    store = checkpoint_store(
        REGISTRY, "p.rill", state_dir=None, state_store=REDIS.url, group="g", worker=2
    )
    assert isinstance(store, SegmentedStore)
    assert isinstance(store.store, RedisCheckpointStore)
    assert store.store.key == "rillet:g:state:worker-2"


def test_a_url_no_broker_serves_is_refused_naming_those_that_are() -> None:
    with pytest.raises(BrokerError, match=r"(?s)no broker serves `nats://x`.*redis://"):
        checkpoint_store(REGISTRY, "p.rill", state_dir=None, state_store="nats://x", group="g")
