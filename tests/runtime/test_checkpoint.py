"""Checkpoints in-process: the store keeps complete manifests and skips broken ones, and a run
that dies at any point resumes from its last checkpoint to exactly the output of a run that
never died."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from pathlib import Path

import anyio
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rillet.runtime import prepare
from rillet.runtime.checkpoint import (
    MANIFEST_VERSION,
    FileCheckpointStore,
    Manifest,
    OperatorState,
    PipelineIdentity,
)
from rillet.runtime.memory import MemorySource
from rillet.stdlib.generate import START_MS, click_events
from tests.conftest import compile_pipeline

PIPELINE = """set batch_size = 50
set checkpoint_interval = 1ms
source clicks = file("in.jsonl")
sink out = file("out/out.jsonl")
sink late = file("out/late.jsonl")
clicks | event_time ts lateness 2s | window tumbling 1s
  | aggregate by page { n = count(), total = sum(latency_ms), users = count_distinct(user) }
  | late into late | into out
clicks | where status != 200 | select ts, user, status | into out
"""


def manifest(checkpoint_id: int) -> Manifest:
    return Manifest(MANIFEST_VERSION, checkpoint_id, 0, False, {"s": checkpoint_id}, {}, {})


def test_store_keeps_the_last_three(tmp_path: Path) -> None:
    store = FileCheckpointStore(tmp_path)
    for checkpoint_id in range(1, 6):
        store.save(manifest(checkpoint_id))
    assert [m.checkpoint_id for m in store.all()] == [5, 4, 3]
    assert store.latest() == manifest(5)


def test_store_skips_a_truncated_checkpoint_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FileCheckpointStore(tmp_path)
    store.save(manifest(1))
    store.save(manifest(2))
    newest = sorted(tmp_path.glob("checkpoint-*"))[-1]
    newest.write_bytes(newest.read_bytes()[:7])
    with caplog.at_level(logging.WARNING):
        assert store.latest() == manifest(1)
    assert "skipping unreadable checkpoint" in caplog.text


def full_manifest(checkpoint_id: int) -> Manifest:
    """A manifest with every part a real one has: source offsets, operator state, sink parts."""
    state = msgspec.msgpack.encode({"windows": [[0, {"n": 5}]], "watermark": 999})
    return Manifest(
        MANIFEST_VERSION,
        checkpoint_id,
        1_700_000_000_000,
        False,
        {"clicks": {"done": ["a.jsonl"], "current": ["b.jsonl", 4096]}},
        {"3": OperatorState("0123456789abcdef", state)},
        {
            "out": {
                "path": "out/o.jsonl",
                "length": 2046,
                "header": None,
                "tail": "ba659005b3da3b2d",
            }
        },
        None,
        PipelineIdentity("f" * 16, {"day": "ab" * 8}),
    )


def test_every_flipped_bit_of_a_checkpoint_falls_back_to_the_one_before(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Header, source offsets, operator state, sink parts: a single flipped bit anywhere is
    caught by the checksum, never resumed from."""
    store = FileCheckpointStore(tmp_path)
    store.save(full_manifest(1))
    store.save(full_manifest(2))
    newest = tmp_path / "checkpoint-000000002.msgpack"
    sealed = newest.read_bytes()
    for bit in range(len(sealed) * 8):
        damaged = bytearray(sealed)
        damaged[bit // 8] ^= 1 << bit % 8
        newest.write_bytes(damaged)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert store.latest() == full_manifest(1), f"bit {bit} went unnoticed"
        assert "skipping unreadable checkpoint checkpoint-000000002.msgpack" in caplog.text
    newest.write_bytes(sealed)
    assert store.latest() == full_manifest(2)


def test_checkpoint_without_a_checksum_still_loads(tmp_path: Path) -> None:
    """As written before checkpoints were sealed (tests/e2e/fixtures/resume_v1 is one)."""
    (tmp_path / "checkpoint-000000004.msgpack").write_bytes(
        msgspec.msgpack.encode(full_manifest(4))
    )
    assert FileCheckpointStore(tmp_path).latest() == full_manifest(4)


class Crash(Exception):
    pass


class CrashingSource(MemorySource):
    """Raises once the position reaches `crash_at`, as a process killed there would stop."""

    def __init__(self, records: list[dict], crash_at: int) -> None:
        super().__init__(records, batch_size=50)
        self.crash_at = crash_at

    async def read_batch(self):
        if self.position_index >= self.crash_at:
            raise Crash
        return await super().read_batch()


def events(n: int) -> list[dict]:
    return click_events(random.Random(3), 0, n, START_MS, 7.0)


def run(folder: Path, source: MemorySource | None, store: FileCheckpointStore | None) -> None:
    compiled = compile_pipeline(PIPELINE, folder)
    assert compiled.plan is not None and compiled.checked is not None
    plan, registry = compiled.plan, compiled.checked.registry
    resume = store.latest() if store is not None else None
    sources = {"clicks": source} if source is not None else {}
    execution = prepare(plan, registry, sources=sources, store=store, resume=resume)
    anyio.run(execution.run)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(crashes=st.lists(st.integers(min_value=0, max_value=1999), min_size=1, max_size=3))
def test_run_aborted_anywhere_resumes_to_the_uninterrupted_output(
    tmp_path_factory: pytest.TempPathFactory, crashes: list[int]
) -> None:
    records = events(2000)
    reference = tmp_path_factory.mktemp("reference")
    (reference / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    run(reference, None, None)

    crashed = tmp_path_factory.mktemp("crashed")
    (crashed / "in.jsonl").write_text((reference / "in.jsonl").read_text())
    store = FileCheckpointStore(crashed / "state")
    for crash_at in sorted(crashes):
        with pytest.raises(BaseException) as caught:  # noqa: B017 - a task group wraps it
            run(crashed, CrashingSource(records, crash_at), store)
        assert (
            caught.group_contains(Crash)
            if isinstance(caught.value, BaseExceptionGroup)
            else isinstance(caught.value, Crash)
        )
    run(crashed, MemorySource(records, batch_size=50), store)
    for name in ("out.jsonl", "late.jsonl"):
        got = (crashed / "out" / name).read_bytes()
        want = (reference / "out" / name).read_bytes()
        assert sorted(got.splitlines()) == sorted(want.splitlines()), name


class SlowStore(FileCheckpointStore):
    """Saves as a slow disk or a remote store would; notes the thread each save ran on."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.threads: list[str] = []

    def save(self, manifest: Manifest) -> None:
        self.threads.append(threading.current_thread().name)
        time.sleep(0.01)  # a slow disk: the one thing a test may not replace by a clock
        super().save(manifest)


def test_checkpoints_are_saved_off_the_event_loop_in_order(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in events(2000)))
    store = SlowStore(tmp_path / "state")
    run(tmp_path, None, store)
    assert store.threads and threading.main_thread().name not in store.threads
    saved = [m.checkpoint_id for m in store.all()]
    assert saved == sorted(saved, reverse=True) and store.latest().finished
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "in.jsonl").write_text((tmp_path / "in.jsonl").read_text())
    run(reference, None, None)
    for name in ("out.jsonl", "late.jsonl"):  # two flows write `out`: in either order
        got = (tmp_path / "out" / name).read_bytes().splitlines()
        assert sorted(got) == sorted((reference / "out" / name).read_bytes().splitlines())
