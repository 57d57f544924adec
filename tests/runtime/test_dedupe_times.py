"""`dedupe` (runtime/keyed.py) reads each record's time in its own loop: ISO-8601 times count as
their epoch milliseconds, a record without a valid time is a time error, and time errors come
before the batch's other errors (an unhashable key), as in every operator."""

from __future__ import annotations

from rillet.runtime import ManualClock
from rillet.runtime.item import Batch, Origin
from rillet.runtime.keyed import DedupeOperator
from rillet.runtime.operator import Output


def test_dedupe_reads_iso_times_and_reports_bad_ones_first() -> None:
    records = [
        {"ts": "2026-01-01T00:00:00.000", "id": "x"},
        {"ts": "2026-01-01T00:00:00.010Z", "id": "x"},  # 10 ms later: dropped
        {"ts": 1767225600000 + 11, "id": ["unhashable"]},
        {"ts": "soon", "id": "x"},
        {"id": "x"},
        {"ts": 1767225600000 + 11, "id": "x"},  # 11 ms after the first: kept
    ]
    op, out = DedupeOperator(("id",), 10, "ts", ManualClock()), Output()
    op.process(Batch(records, list(range(len(records))), Origin("s")), 0, out)
    assert out.records == [records[0], records[5]]
    assert out.offsets == [0, 5]
    assert [offset for _, offset, _ in out.errors] == [3, 4, 2]
    assert op.kept == {"x": [1767225600000, 1767225600011]}
