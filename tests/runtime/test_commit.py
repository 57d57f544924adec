"""`commit`: a connector hears that a checkpoint holding its part is saved — only then, in
order, from its own task — and a run without checkpoints commits once at its end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio

from rillet.runtime import capability, prepare
from rillet.runtime.checkpoint import FileCheckpointStore, Manifest
from rillet.runtime.clock import ManualClock
from rillet.runtime.memory import MemorySink, MemorySource
from tests.conftest import compile_pipeline

PIPELINE = """set batch_size = 10
set checkpoint_interval = 1ms
source clicks = file("in.jsonl")
sink out = file("out.jsonl")
clicks | where n % 3 != 0 | into out
"""


class RecordingStore(FileCheckpointStore):
    """Keeps every manifest it saved, in order (the folder keeps only the last three)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.saved: list[Manifest] = []

    def save(self, manifest: Manifest) -> None:
        super().save(manifest)
        self.saved.append(manifest)


class Committing(capability.Committing):
    """Records each commit with how many checkpoints had been saved at that moment."""

    def __init__(self, store: RecordingStore | None) -> None:
        self.store = store
        self.commits: list[tuple[Any, int | None]] = []

    async def commit(self, value: Any) -> None:
        self.commits.append((value, len(self.store.saved) if self.store is not None else None))


class CommittingSource(MemorySource, Committing):
    """Moves the run's clock past the checkpoint interval before each batch, and lets every
    other task (the checkpointer) take its turn."""

    def __init__(
        self, records: list[dict], store: RecordingStore | None, clock: ManualClock
    ) -> None:
        MemorySource.__init__(self, records, batch_size=10)
        Committing.__init__(self, store)
        self.clock = clock

    async def read_batch(self):
        self.clock.advance(0.002)
        await anyio.wait_all_tasks_blocked()
        return await super().read_batch()


class CommittingSink(MemorySink, Committing, capability.Transactional):
    def __init__(self, store: RecordingStore | None) -> None:
        MemorySink.__init__(self)
        Committing.__init__(self, store)
        self.precommits: list[int] = []

    async def precommit(self) -> int:
        self.precommits.append(len(self.records))
        return len(self.records)

    def restore(self, committed: int) -> None:
        del self.records[committed:]


def run(
    folder: Path, store: RecordingStore | None, records: list[dict]
) -> tuple[CommittingSource, CommittingSink]:
    compiled = compile_pipeline(PIPELINE, folder)
    assert compiled.plan is not None and compiled.checked is not None
    clock = ManualClock()
    source, sink = CommittingSource(records, store, clock), CommittingSink(store)
    execution = prepare(
        compiled.plan,
        compiled.checked.registry,
        sources={"clicks": source},
        sinks={"out": sink},
        store=store,
        clock=clock,
    )
    anyio.run(execution.run)
    return source, sink


def records(n: int) -> list[dict]:
    return [{"n": i} for i in range(n)]


def test_commits_follow_saved_checkpoints_in_order(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records(300)))
    store = RecordingStore(tmp_path / "state")
    source, sink = run(tmp_path, store, records(300))
    final = store.saved[-1]
    assert final.finished
    for connector, name, parts in ((source, "clicks", "sources"), (sink, "out", "sinks")):
        assert len(connector.commits) >= 2, "checkpoints along the way and the last one"
        values = [value for value, _ in connector.commits]
        assert values == sorted(values)
        for value, saved in connector.commits:
            assert saved is not None
            before = [getattr(m, parts)[name] for m in store.saved[:saved]]
            assert value == before[-1], "the newest checkpoint saved before the call"
        assert values[-1] == getattr(final, parts)[name], "the last checkpoint is committed"
    assert sink.commits[-1][0] == 200
    assert source.commits[-1][0] == 300


def test_without_checkpoints_the_end_of_the_run_commits_once(tmp_path: Path) -> None:
    source, sink = run(tmp_path, None, records(95))
    assert sink.precommits == [len(sink.records)] == [63]
    assert sink.commits == [(63, None)]
    assert source.commits == [(95, None)]
