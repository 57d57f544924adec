"""Test helpers for event time: sources that cut batches where a test says or that a test feeds
while the run goes on, hypothesis strategies for streams with bounded disorder, and plain
reference computations of windowed aggregates (sort, bucket, fold) to hold the runtime to.

The references state the semantics the runtime implements (docs/language.md §4.4): windows are
half-open and epoch-aligned; within a window, keys come in the order they were first seen;
aggregates skip nulls; `first`, `last` and `collect` follow arrival order within a pane (for a
tumbling window, the window), and a sliding window merges its panes in time order; a session's
values come in arrival order unless a late record bridged two sessions (then the earlier
session's values come first).
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from itertools import accumulate
from pathlib import Path
from typing import Any

import anyio
from hypothesis import strategies as st

from rillet.runtime import execute
from rillet.runtime.connector import SourceBatch
from tests.conftest import compile_pipeline

# -- sources -------------------------------------------------------------------------------------


class MemorySource:
    """Gives `records` in batches of the sizes in `sizes` (the rest in one last batch)."""

    def __init__(self, records: Sequence[dict], sizes: Iterable[int] = ()) -> None:
        self.records = list(records)
        self.cuts = [c for c in accumulate(sizes) if c < len(self.records)]
        self.cuts.append(len(self.records))
        self.at = 0
        self.batches = 0

    async def open(self) -> None:
        pass

    async def read_batch(self) -> SourceBatch | None:
        if self.at >= len(self.records):
            return None
        end = self.cuts[self.batches]
        self.batches += 1
        start, self.at = self.at, end
        return SourceBatch(self.records[start:end], list(range(start, end)))

    async def aclose(self) -> None:
        pass


class FeedSource:
    """A source the test feeds while the run goes on: `feed(records)` makes one batch,
    `end()` ends the input. Offsets count records from 0."""

    def __init__(self) -> None:
        self._send, self._receive = anyio.create_memory_object_stream[list[dict]](math.inf)
        self.offset = 0

    def feed(self, records: list[dict]) -> None:
        self._send.send_nowait(records)

    def end(self) -> None:
        self._send.close()

    async def open(self) -> None:
        pass

    async def read_batch(self) -> SourceBatch | None:
        try:
            records = await self._receive.receive()
        except anyio.EndOfStream:
            return None
        start, self.offset = self.offset, self.offset + len(records)
        return SourceBatch(records, list(range(start, self.offset)))

    async def aclose(self) -> None:
        self._send.close()
        self._receive.close()


def write_jsonl(path: Path, records: Iterable[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def three_windows(
    source: str, aggregates: str, lateness: int, size: int, slide: tuple[int, int], gap: int
) -> str:
    """Pipeline text: one event-time stream from file `source` into tumbling, sliding and
    session windows of `aggregates`, each to its own sink."""
    return f"""source s = file("{source}")
sink tumbling = file("tumbling.jsonl")
sink sliding = file("sliding.jsonl")
sink sessions = file("sessions.jsonl")
stream t = s | event_time ts lateness {lateness}ms
t | window tumbling {size}ms | aggregate by k {aggregates} | into tumbling
t | window sliding {slide[0]}ms every {slide[1]}ms | aggregate by k {aggregates} | into sliding
t | window session gap {gap}ms | aggregate by k {aggregates} | into sessions
"""


def compiled_plan(text: str, base_dir: Path):
    """(plan, registry) of pipeline text that must compile without errors."""
    compiled = compile_pipeline(text, base_dir)
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    assert compiled.plan is not None and compiled.checked is not None
    return compiled.plan, compiled.checked.registry


def drive(base_dir: Path, text: str, script: Callable[[], Awaitable[None]], **kwargs) -> None:
    """Run pipeline `text` (`execute(**kwargs)`) while `script` feeds its `FeedSource`s and
    checks its sinks, typically after `wait_all_tasks_blocked()`; the script must end every
    source it feeds."""
    plan, registry = compiled_plan(text, base_dir)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(partial(execute, plan, registry, **kwargs))
            await script()

    anyio.run(main)


# -- generated streams ---------------------------------------------------------------------------

KEYS = ("a", "b", "c", None)
KINDS = ("x", "y", "z", None)


@st.composite
def disordered(
    draw: st.DrawFn,
    max_disorder: int,
    max_size: int = 50,
    min_ts: int = -60,
    keys: Sequence[Any] = KEYS,
    values: st.SearchStrategy | None = None,
    max_step: int = 12,
    min_size: int = 0,
) -> list[dict]:
    """Records `{ts, k, v, c}` whose event times run forward with steps of 0..`max_step` ms,
    each at most `max_disorder` ms before the largest so far; `v` is sometimes null."""
    values = values if values is not None else st.one_of(st.none(), st.integers(-50, 50))
    start = draw(st.integers(min_ts, min_ts + 120))
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(0, max_step),
                st.integers(0, max_disorder),
                st.sampled_from(keys),
                values,
                st.sampled_from(KINDS),
            ),
            min_size=min_size,
            max_size=max_size,
        )
    )
    records, front = [], start
    for step, back, key, value, kind in rows:
        front += step
        records.append({"ts": front - back, "k": key, "v": value, "c": kind})
    return records


def batch_sizes(max_size: int = 8) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(1, max_size), max_size=30)


# -- reference computations ----------------------------------------------------------------------

AGGREGATES = """{
      n = count(), total = sum(v), lo = min(v), hi = max(v), mean = avg(v),
      kinds = count_distinct(c), values = collect(v), head = first(v), tail = last(v),
      median = quantile(v, 0.5), p90 = quantile(v, 0.9),
    }"""


def quantile(values: list, q: float) -> float | None:
    """Exact, linearly interpolated between the two nearest ranks (SQL's `quantile_cont`)."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def fold(records: list[dict]) -> dict:
    """The aggregates of `AGGREGATES` over records in the order their values count."""
    values = [r["v"] for r in records if r.get("v") is not None]
    return {
        "n": len(records),
        "total": sum(values) if values else None,
        "lo": min(values, default=None),
        "hi": max(values, default=None),
        "mean": sum(values) / len(values) if values else None,
        "kinds": len({r["c"] for r in records if r.get("c") is not None}),
        "values": values,
        "head": values[0] if values else None,
        "tail": values[-1] if values else None,
        "median": quantile(values, 0.5),
        "p90": quantile(values, 0.9),
    }


def pane_windows(
    records: Sequence[dict],
    size: int,
    every: int,
    fold: Callable[[list[dict]], dict] = fold,
    key: str = "k",
) -> list[dict]:
    """Tumbling (`every == size`) or sliding windows by `key`, in the runtime's output order:
    by window end, then keys by first arrival in the window."""
    pane = math.gcd(size, every)
    windows: dict[int, dict[Any, list[tuple[int, int, dict]]]] = {}
    for arrival, record in enumerate(records):
        ts = record["ts"]
        start = ts - ts % every  # the last window holding ts
        while start > ts - size:
            windows.setdefault(start, {}).setdefault(record.get(key), []).append(
                (ts // pane, arrival, record)
            )
            start -= every
    out = []
    for start in sorted(windows):
        groups = windows[start]
        for group in sorted(groups, key=lambda g: min(a for _, a, _ in groups[g])):
            ordered = [r for _, _, r in sorted(groups[group], key=lambda e: e[:2])]
            out.append(
                {"window_start": start, "window_end": start + size, key: group, **fold(ordered)}
            )
    return out


def sessions(
    records: Sequence[dict], gap: int, fold: Callable[[list[dict]], dict] = fold, key: str = "k"
) -> list[dict]:
    """Session windows by `key` as if all data were known: sorted by time, a record starts a
    new session when it comes `gap` or more after the previous one. Values in arrival order;
    the output in no particular order."""
    by_key: dict[Any, list[tuple[int, int, dict]]] = {}
    for arrival, record in enumerate(records):
        by_key.setdefault(record.get(key), []).append((record["ts"], arrival, record))
    out = []
    for group, items in by_key.items():
        items.sort(key=lambda e: e[:2])
        islands: list[list[tuple[int, int, dict]]] = []
        for item in items:
            if islands and item[0] < islands[-1][-1][0] + gap:
                islands[-1].append(item)
            else:
                islands.append([item])
        for island in islands:
            ordered = [r for _, _, r in sorted(island, key=lambda e: e[1])]
            out.append(
                {
                    "window_start": island[0][0],
                    "window_end": island[-1][0] + gap,
                    key: group,
                    **fold(ordered),
                }
            )
    return out


def canonical(rows: Iterable[dict]) -> list[str]:
    """Rows as a sorted list of JSON texts: a multiset to compare."""
    return sorted(json.dumps(r, sort_keys=True) for r in rows)
