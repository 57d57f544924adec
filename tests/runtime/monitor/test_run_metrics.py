"""What a real run records for monitoring, beside its counters: the watermark each node passed
on, and each completed checkpoint (id, time, duration, state size, histograms)."""

from __future__ import annotations

from pathlib import Path

from rillet.runtime.checkpoint import FileCheckpointStore
from tests.conftest import run_pipeline

PIPELINE = """\
source nums = file("in.jsonl")
sink out = file("out/out.jsonl")
nums | event_time ts lateness 5ms | window tumbling 10ms | aggregate { n = count() } | into out
"""


def test_run_records_watermarks_and_its_final_checkpoint(write, tmp_path: Path) -> None:
    write("in.jsonl", "".join(f'{{"ts": {t}}}\n' for t in range(0, 100, 3)))
    metrics = run_pipeline(PIPELINE, tmp_path, store=FileCheckpointStore(tmp_path / "state"))
    by_name = {m.name: m for m in metrics.nodes.values()}
    event_time = next(m for name, m in by_name.items() if name.startswith("event_time"))
    assert event_time.watermark_ms == 99 - 5  # the newest event time minus the lateness
    assert by_name["nums"].watermark_ms is None  # no event time at the source
    checkpoints = metrics.checkpoints
    # the one taken when the input reached its end (a barrier began it), then the final one
    assert checkpoints.completed == 2 and checkpoints.last is not None
    assert checkpoints.last.duration_s is None  # the final one: no barrier began it
    assert checkpoints.last.size_bytes > 0  # the aggregate's state
    assert checkpoints.size_bytes.count == 2 and checkpoints.duration_s.count == 1
    drained, final = checkpoints.history
    assert drained.duration_s is not None and final == checkpoints.last
