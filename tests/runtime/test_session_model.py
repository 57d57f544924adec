"""Session windows (runtime/session.py, its generated loop runtime/sessionloop.py) held to a plain
model: every record merged with the sessions of its key it overlaps, values kept as lists and
folded when a session fires. The streams are disordered beyond the lateness (late records,
records bridging two sessions), carry bad times, unhashable keys and values whose aggregate
fails, and are cut into batches anywhere, with a watermark after each batch: records, late
records and errors must come out the same, in the same order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rillet.runtime import ManualClock
from rillet.runtime.compile import compile_plan
from rillet.runtime.item import END_OF_TIME, Batch, Origin
from rillet.runtime.operator import Output
from rillet.runtime.session import SessionWindow
from tests.runtime._streams import compiled_plan

GAP, LATENESS = 6, 3
ITEMS = "{ n = count(), inv = sum(60 // v), values = collect(v), head = first(v) }"


class SessionModel:
    """Sessions as lists of their records' values; `first` numbers the records placed."""

    def __init__(self, lateness: int) -> None:
        self.lateness = lateness
        self.sessions: dict[Any, list[dict]] = {}
        self.watermark = self.seen = -(2**63)
        self.placed = 0

    def batch(self, records: list[dict], times: list[Any], out: Output) -> None:
        horizon = max(self.watermark, self.seen)
        errors = []
        for offset, (record, ts) in enumerate(zip(records, times)):
            if not isinstance(ts, int):
                out.errors.append((record, offset, "bad time"))
                continue
            key = record["k"]
            if isinstance(key, list):
                errors.append((record, offset, "unhashable key"))
                continue
            horizon = max(horizon, ts - self.lateness)
            own = self.sessions.setdefault(key, [])
            overlapping = [s for s in own if s["start"] < ts + GAP and ts < s["end"]]
            start = min([ts, *(s["start"] for s in overlapping)])
            end = max([ts + GAP, *(s["end"] for s in overlapping)])
            if end <= horizon:
                out.late.append(record)
                out.late_offsets.append(offset)
            elif record["v"] == 0:
                errors.append((record, offset, "division by zero"))
            else:
                overlapping.sort(key=lambda s: s["start"])
                values = [v for s in overlapping for v in s["values"]] + [record["v"]]
                first = min([self.placed, *(s["first"] for s in overlapping)])
                own[:] = [s for s in own if s not in overlapping]
                own.append({"start": start, "end": end, "first": first, "values": values})
                self.placed += 1
            if not own:
                del self.sessions[key]
        out.errors += errors
        self.seen = horizon

    def fire(self, watermark: int, out: Output) -> None:
        self.watermark = max(self.watermark, watermark)
        due = [(s, k) for k, own in self.sessions.items() for s in own if s["end"] <= watermark]
        for session, key in sorted(due, key=lambda d: (d[0]["end"], d[0]["first"])):
            self.sessions[key].remove(session)
            values = session["values"]
            out.records.append(
                {
                    "window_start": session["start"],
                    "window_end": session["end"],
                    "k": key,
                    "n": len(values),
                    "inv": sum(60 // v for v in values if v is not None)
                    if any(v is not None for v in values)
                    else None,
                    "values": [v for v in values if v is not None],
                    "head": next((v for v in values if v is not None), None),
                }
            )
        self.sessions = {k: own for k, own in self.sessions.items() if own}


def build(base_dir: Path, event_time: bool, clock: ManualClock) -> SessionWindow:
    timed = f"| event_time ts lateness {LATENESS}ms " if event_time else ""
    text = (
        'source s = file("unused.jsonl")\nsink out = file("out.jsonl")\n'
        f"s {timed}| window session gap {GAP}ms | aggregate by k {ITEMS} | into out\n"
    )
    plan, registry = compiled_plan(text, base_dir)
    physical = compile_plan(plan, registry, clock)
    (op,) = [n.operator for n in physical.nodes.values() if isinstance(n.operator, SessionWindow)]
    return op


RECORD = st.fixed_dictionaries(
    {
        "step": st.integers(0, 4),
        "back": st.integers(0, 2 * GAP + LATENESS),
        "k": st.sampled_from(["a", "b", None, "a", "b", [1]]),
        "v": st.one_of(st.none(), st.integers(-3, 3)),
        "bad_time": st.integers(0, 15).map(lambda n: n == 0),
    }
)


def stream(rows: list[dict]) -> tuple[list[dict], list[Any]]:
    """Records and their times: forward steps, some taken back, a few not times at all."""
    records, times, front = [], [], 0
    for row in rows:
        front += row["step"]
        ts: Any = "not a time" if row["bad_time"] else front - row["back"]
        times.append(ts)
        records.append({"ts": ts, "k": row["k"], "v": row["v"]})
    return records, times


def batches(records: list, cuts: list[int]) -> list[tuple[int, int]]:
    """[start, stop) of each batch: `records` cut after the positions in `cuts`."""
    bounds = sorted({0, len(records), *(c % (len(records) + 1) for c in cuts)})
    return list(zip(bounds, bounds[1:]))


def offsets_from(start: int, out: Output) -> tuple[list, list, list]:
    """Records, late records with their offsets, and errors' records and offsets, for comparing
    (the model's offsets count from the batch's start)."""
    late = [(r, o + start) for r, o in zip(out.late, out.late_offsets)]
    return out.records, late, [(r, o + start) for r, o, _ in out.errors]


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(RECORD, min_size=5, max_size=60), cuts=st.lists(st.integers(0, 60), max_size=12)
)
@pytest.mark.parametrize("event_time", [True, False])
def test_sessions_equal_the_plain_model(
    tmp_path_factory: pytest.TempPathFactory, event_time: bool, rows: list, cuts: list
) -> None:
    clock = ManualClock()
    op = build(tmp_path_factory.getbasetemp(), event_time, clock)
    model = SessionModel(op.lateness_ms)
    records, times = stream(rows)
    newest = -(2**63)
    for start, stop in batches(records, cuts):
        got, expected = Output(), Output()
        if not event_time:  # processing time: the batch's time is the clock's
            clock.advance((stop - start) % 7 / 1000)
            times[start:stop] = [clock.time_ms()] * (stop - start)
        op.process(Batch(records[start:stop], list(range(start, stop)), Origin("s")), 0, got)
        model.batch(records[start:stop], times[start:stop], expected)
        valid = [t for t in times[start:stop] if isinstance(t, int)]
        if valid and max(valid) > newest:
            newest = max(valid)
            op.on_watermark(newest - op.lateness_ms, got)
            model.fire(newest - op.lateness_ms, expected)
        assert offsets_from(0, got) == offsets_from(start, expected)
    got, expected = Output(), Output()
    op.on_end(got)
    model.fire(END_OF_TIME, expected)
    assert got.records == expected.records
