"""Incremental checkpoints (runtime/incremental.py, runtime/segments.py): the changes a join
hands each checkpoint, applied in order to its last base, give exactly the snapshot it would
have taken whole; a store keeps them as chains of segments, compacts a chain grown as large as
its base, forgets what no kept checkpoint names, and reads each checkpoint back whole, in the
folder store and in Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rillet.runtime.checkpoint import (
    MANIFEST_VERSION,
    FileCheckpointStore,
    Manifest,
    OperatorState,
)
from rillet.runtime.incremental import Changes, ListChanges
from rillet.runtime.operator import Output
from rillet.runtime.segments import SegmentedStore, snapshot
from rillet.stdlib.redis_state import RedisCheckpointStore
from tests.runtime._streams import batch_sizes, disordered
from tests.runtime.test_state import apply, cut, factory, steps_for
from tests.servers import REDIS, ensure

JOINS = ["join", "left_join", "regular_left_join"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("incremental")


def whole_snapshot(op: Any) -> Any:
    return msgspec.msgpack.decode(msgspec.msgpack.encode(op.snapshot()))


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    disorder=st.integers(0, 16),
    sizes=batch_sizes(6),
    checkpoint_after=st.lists(st.booleans(), min_size=80, max_size=80),
)
@pytest.mark.parametrize("kind", JOINS)
def test_a_joins_changes_add_up_to_its_snapshot(
    workdir: Path,
    kind: str,
    data: st.DataObject,
    disorder: int,
    sizes: list[int],
    checkpoint_after: list[bool],
) -> None:
    left = data.draw(disordered(disorder, max_size=60, max_step=5, min_ts=0))
    right = [{**r, "side": "r"} for r in data.draw(disordered(disorder, max_size=40, max_step=5))]
    inputs = [(0, b) for b in cut(left, sizes)] + [(1, b) for b in cut(right, sizes[::-1])]
    inputs.sort(key=lambda port_batch: port_batch[1][0]["ts"] if port_batch[1] else 0)
    op = factory(kind, workdir)()
    chain = [msgspec.msgpack.encode(op.changes(whole=True))]
    out = Output()
    for step, checkpoint in zip(steps_for(inputs, 2), checkpoint_after):
        apply(op, [step], out)
        if checkpoint:
            chain.append(msgspec.msgpack.encode(op.changes(whole=False)))
            assert msgspec.msgpack.decode(snapshot(chain)) == whole_snapshot(op)
    op.on_end(out)  # a left join's records still waiting are written, and count as matched
    chain.append(msgspec.msgpack.encode(op.changes(whole=False)))
    assert msgspec.msgpack.decode(snapshot(chain)) == whole_snapshot(op)


def changes(whole: bool, added: dict[int, str], removed: list[int] | None = None) -> bytes:
    items = ListChanges(sorted(added.items()), removed or [])
    return msgspec.msgpack.encode(Changes(whole, {"version": 7}, {"items": items}))


def manifest(checkpoint_id: int, state: bytes) -> Manifest:
    """A checkpoint in flight whose one operator hands changes (`segments == []`)."""
    operator = OperatorState("fp", state, None, segments=[])
    return Manifest(MANIFEST_VERSION, checkpoint_id, 0, False, {}, {"op": operator}, {})


def saved_items(store: SegmentedStore) -> list[str]:
    latest = store.latest()
    assert latest is not None
    whole = msgspec.msgpack.decode(latest.operators["op"].state)
    assert whole["version"] == 7
    return whole["items"]  # type: ignore[no-any-return]


@pytest.fixture(params=["folder", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SegmentedStore]:
    if request.param == "folder":
        yield SegmentedStore(FileCheckpointStore(tmp_path))
        return
    ensure(REDIS)
    redis_store = RedisCheckpointStore(REDIS.url, f"rillet:test-{uuid.uuid4().hex}:state")
    yield SegmentedStore(redis_store)
    redis_store.clear()


def test_a_store_writes_changes_as_segments_and_reads_them_back_whole(
    store: SegmentedStore,
) -> None:
    big = dict.fromkeys(range(100), "x" * 100)
    store.save(manifest(1, changes(True, big)))
    store.save(manifest(2, changes(False, {100: "new", 3: "changed"}, removed=[0, 1])))
    want = ["x" * 100] * 98  # ids 2 to 99, in order; id 3 changed, 100 added
    want[1] = "changed"
    assert saved_items(store) == [*want, "new"]
    stored = store.store.latest()
    assert stored is not None
    assert stored.operators["op"].state == b""
    assert len(stored.operators["op"].segments or []) == 2  # the base and one change


def test_a_chain_grown_as_large_as_its_base_is_compacted(store: SegmentedStore) -> None:
    store.save(manifest(1, changes(True, dict.fromkeys(range(10), "x" * 10))))
    for checkpoint_id in range(2, 12):
        added = {100 + checkpoint_id: "y" * 10}
        store.save(manifest(checkpoint_id, changes(False, added, removed=[checkpoint_id - 2])))
    stored = store.store.latest()
    assert stored is not None
    assert len(stored.operators["op"].segments or []) < 10  # compacted on the way
    assert saved_items(store) == ["y" * 10] * 10
    named = {n for m in store.store.all() for n in m.operators["op"].segments or []}
    assert set(store.store.segment_names()) == named  # the others were deleted


def test_a_checkpoint_whose_segment_is_lost_gives_way_to_the_one_before(
    store: SegmentedStore,
) -> None:
    store.save(manifest(1, changes(True, {1: "a"})))
    store.save(manifest(2, changes(False, {2: "b"})))
    newest = store.store.latest()
    assert newest is not None
    store.store.drop_segments([(newest.operators["op"].segments or [])[-1]])
    latest = store.latest()
    assert latest is not None and latest.checkpoint_id == 1
    assert saved_items(store) == ["a"]


def test_clearing_a_store_forgets_its_segments(store: SegmentedStore) -> None:
    store.save(manifest(1, changes(True, {1: "a"})))
    store.clear()
    assert store.latest() is None
    assert store.store.segment_names() == []


def test_a_join_sides_journal_is_dropped_when_it_outgrows_what_the_side_holds() -> None:
    """Between two checkpoints a side with a short `within` forgets far more than it holds:
    its journal of changes stops at about twice the side's records, and the next checkpoint
    takes the side whole, so memory follows the state, not the input."""
    from rillet.runtime.join import JOURNAL_SLACK, Side

    side = Side(expires=True)
    side.changes(True, matched=False)  # a checkpoint asked: the journal starts
    for ts in range(3 * JOURNAL_SLACK):
        side.add(ts % 7, ts, {"ts": ts})
        side.expire(ts - 10)  # about ten records held at any time
        assert side.journal is None or len(side.journal) <= 2 * 11 + JOURNAL_SLACK + 1
    assert side.journal is None
    held = sorted(arrival for entries in side.by_key.values() for _, _, arrival in entries)
    changes = side.changes(False, matched=False)  # whole, though not asked to be
    assert [a for a, _ in changes.upserts] == held and len(held) == 11
    assert side.journal == []  # and journaling again
