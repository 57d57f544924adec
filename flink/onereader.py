"""A file source with event time, read by one reader and given its watermark at one point.

A file is one split, so at parallelism N one source task reads it and the others read nothing.
A watermark declared on the filesystem table is assigned in every source task, and a keyed
operator downstream takes the least of them: until the idle tasks finish (when the split
enumerator tells them there is nothing left, a race with the reading task) the watermark is
held back, and a record rillet calls late is counted or not depending on that race. Flink's
filesystem table takes no `scan.parallelism`, so the job reads the table without a watermark,
passes its rows through one task (in file order: the reading task's channel keeps its order),
and declares the rowtime and the watermark on that stream (`from_data_stream`), where the
planner assigns them at the stream's parallelism, 1. Every keyed operator then sees one
watermark, moved per record in file order, as rillet's per source. The job side is
`streamjob.py`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OneReaderStep:
    """The arguments of the script's `one_reader_view`: `view` is `table` read in one task,
    with the computed column `rowtime` (an expression) and its `watermark` (an expression)."""

    view: str
    table: str
    rowtime_column: str
    rowtime: str
    watermark: str

    def arguments(self) -> dict:
        return {
            "step": "one_reader_view",
            "view": self.view,
            "table": self.table,
            "rowtime_column": self.rowtime_column,
            "rowtime": self.rowtime,
            "watermark": self.watermark,
        }
