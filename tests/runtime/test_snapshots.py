"""Operator snapshots are versioned (runtime/opstate.py): a blob of every version of every
operator's snapshot, kept in tests/runtime/snapshots/ as the code of its time wrote it, restores
into an operator that goes on as the operator that saved it would have: the restored window
fires with the saved values in its aggregates, dedupe drops what it had seen, join matches what
it had buffered, rolling counts the records it held. The newest blob is what the code writes
now, byte for byte, so that a format changed without a new version fails here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from rillet.runtime.operator import Output
from rillet.runtime.opstate import EventTimeState, SnapshotVersionError
from tests.runtime.snapshots.operators import AFTER, FILL, batch, build, filled

FIXTURES = Path(__file__).parent / "snapshots"
VERSIONS = dict.fromkeys(FILL, (1, 2)) | {
    "event_time": (1, 2, 3),
    "parts": (3,),
    "tumbling": (1, 2, 3),
    "sliding": (1, 2, 3),
    "rolling": (1,),
    "rolling_last": (1,),
    "early": (3,),
    "top": (3,),
    "top_sliding": (3,),
    "top_session": (2,),
    "top_global": (2,),
    "join": (1, 2, 3),
    "left_join": (3,),
    "regular_left_join": (3,),
}
"""The formats each operator's snapshot has had (`parts`: the event time of a source with parts,
first kept in version 3; `early`: a window that emits early, whose changed groups version 3 of
the pane windows' format keeps; `left_join`, a join's left records that wait for a partner,
first in version 3; a format new since versions began, as `rolling`'s, starts at 1; a `top`
saves its windows' format, its records as their accumulators' state)."""
BLOBS = [(kind, version) for kind, versions in VERSIONS.items() for version in versions]
UPGRADED = {
    ("event_time", 1): EventTimeState(125, []),
    ("event_time", 2): EventTimeState(125, []),
}
"""What an older blob restores to where it is not the newest blob: before version 3 the largest
time was always the watermark sent + lateness (130 = 125 + 5), so it is not kept as a part."""


def current(kind: str) -> int:
    return VERSIONS[kind][-1]


def _blob(kind: str, version: int) -> bytes:
    return (FIXTURES / f"{kind}-v{version}.msgpack").read_bytes()


def _go_on(op: Any, kind: str) -> dict[str, list]:
    """What `op` emits for `AFTER` and then the end of its input, step by step."""
    seen: dict[str, list] = {"records": [], "late": [], "errors": [], "watermarks": []}
    for what, port, value in [*AFTER[kind], ("end", 0, None)]:
        out = Output()
        if what in ("batch", "part"):
            op.process(batch(what, port, value), 0 if what == "part" else port, out)
        elif what == "tick":
            op.on_tick(value, out)
        else:
            op.on_end(out)
        seen["records"] += out.records
        seen["late"] += out.late
        seen["errors"] += out.errors
        if out.watermark is not None:
            seen["watermarks"].append(out.watermark)
    return seen


def _row(start: int | None, end: int | None, keys: dict, values: list, kinds: int) -> dict:
    bounds = {} if start is None else {"window_start": start, "window_end": end}
    total = sum(values)
    return {
        **bounds,
        **keys,
        "n": len(values),
        "total": total,
        "mean": total / len(values),
        "hi": max(values),
        "values": values,
        "kinds": kinds,
    }


def _r(ts: int, k: str, c: str, v: int | None) -> dict:
    return {"ts": ts, "k": k, "c": c, "v": v}


def _ranked(start: int | None, end: int | None, record: dict, rank: int) -> dict:
    bounds = {} if start is None else {"window_start": start, "window_end": end}
    return {**bounds, **record, "rank": rank}


EXPECTED: dict[str, dict[str, list]] = {
    "event_time": {
        "records": [_r(120, "a", "x", 3), _r(140, "a", "x", 4)],
        "watermarks": [135],  # 120 is below the saved largest time (130): no watermark
    },
    "parts": {
        "records": [_r(150, "b", "y", 3), _r(120, "a", "x", 4)],
        "watermarks": [95, 115],  # the least of the parts' largest times (100, then 120) − 5
    },
    "tumbling": {
        "records": [
            _row(100, 200, {"k": "a"}, [3, 4, 6], 2),
            _row(100, 200, {"k": "b"}, [5], 1),
        ],
        "late": [_r(90, "b", "y", 7)],  # [0, 100) fired before the snapshot
    },
    "sliding": {
        "records": [
            _row(50, 150, {"k": "b", "c": "y"}, [2, 5], 1),  # keys in the order first seen
            _row(50, 150, {"k": "a", "c": "x"}, [3, 4], 1),
            _row(100, 200, {"k": "a", "c": "x"}, [4], 1),
            _row(100, 200, {"k": "b", "c": "y"}, [5], 1),
        ],
        "late": [_r(40, "a", "x", 6)],
    },
    "session": {
        "records": [
            _row(100, 140, {"k": "b"}, [4, 5], 1),  # the saved session, extended
            _row(120, 150, {"k": "c"}, [6], 1),
        ],
    },
    "global": {
        "records": [
            _row(None, None, {"k": "a", "c": "x"}, [1, 3], 1),
            _row(None, None, {"k": "b", "c": "y"}, [2, 4], 1),
        ],
    },
    "early": {
        "records": [
            {**_row(0, 100, {"k": "a"}, [1, 3], 2), "final": False},  # b has not changed
            {**_row(0, 100, {"k": "a"}, [1, 3], 2), "final": True},
            {**_row(0, 100, {"k": "b"}, [2], 1), "final": True},
            {**_row(100, 200, {"k": "b"}, [4], 1), "final": True},
        ],
    },
    "top": {
        "records": [  # 50 ties 40 and 60 ties 30: the kept records arrived first
            _ranked(0, 100, _r(20, "a", "y", 5), 1),
            _ranked(0, 100, _r(40, "a", "z", 3), 2),
            _ranked(0, 100, _r(30, "b", "y", 2), 1),
            _ranked(0, 100, _r(60, "b", "x", 2), 2),
            _ranked(100, 200, _r(150, "a", "x", 7), 1),
        ],
        "late": [_r(90, "b", "y", 7)],
    },
    "top_sliding": {
        "records": [  # 4 ties three times: `c` ascending decides
            _ranked(0, 100, _r(80, "a", "w", 4), 1),
            _ranked(0, 100, _r(70, "a", "x", 4), 2),
            _ranked(50, 150, _r(80, "a", "w", 4), 1),
            _ranked(50, 150, _r(70, "a", "x", 4), 2),
            _ranked(50, 150, _r(130, "b", "y", 5), 1),
            _ranked(100, 200, _r(130, "b", "y", 5), 1),
        ],
    },
    "top_session": {
        "records": [  # 110 ties 100, which arrived first
            _ranked(10, 50, _r(20, "b", "y", 2), 1),
            _ranked(100, 140, _r(100, "a", "z", 3), 1),
        ],
    },
    "top_global": {
        "records": [  # 40 ties 30; a null comes last
            _ranked(None, None, _r(30, "a", "x", 3), 1),
            _ranked(None, None, _r(40, "a", "z", 3), 2),
            _ranked(None, None, _r(20, "b", "y", 2), 1),
            _ranked(None, None, _r(50, "b", "y", None), 2),
        ],
    },
    "rolling": {
        "records": [  # 60 reaches back to 10, 70 to 20; 40 is below the horizon (60 − 5)
            {**_r(60, "a", "x", 4), **_row(None, None, {}, [1, 3, 4], 2)},
            {**_r(70, "b", "y", 5), **_row(None, None, {}, [2, 5], 1)},
        ],
        "late": [_r(40, "a", "x", 6)],
    },
    "rolling_last": {
        "records": [  # (a, x) kept its last record released, 30, beside 60 waiting
            {**_r(60, "a", "x", 4), **_row(None, None, {}, [3, 4], 1)},
            {**_r(70, "b", "y", 5), **_row(None, None, {}, [2, 5], 1)},
        ],
        "late": [_r(40, "a", "x", 6)],
    },
    "dedupe": {
        # (a, x) kept at 70 and (b, y) at 30: 75 and 80 are within 50 ms of them, 121 is not
        "records": [_r(121, "a", "x", 7)],
    },
    "join": {
        "records": [
            {**_r(50, "a", "x", 3), "rs_ts": 15, "w": "left-a"},
            {**_r(95, "c", "z", 4), "rs_ts": 90, "w": "c"},
            {**_r(20, "b", "y", 2), "rs_ts": 30, "w": "right-b"},
        ],
    },
    "left_join": {
        "records": [  # (a, z) was written alone before the snapshot, once forgotten
            {**_r(50, "a", "x", 3), "rs_ts": 15, "kind": "x", "w": "a"},
            {**_r(50, "a", "x", 3), "rs_ts": 55, "kind": "x", "w": "a2"},
            _r(20, "b", "y", 2),  # the saved one still waiting, then the new one, at the end
            _r(95, "c", "z", 4),
        ],
    },
    "regular_left_join": {
        "records": [
            {**_r(10, "a", "x", 1), "r_ts": 900, "w": "a2"},  # however long after
            _r(20, "b", "y", 2),
            _r(30, "c", "z", 3),
        ],
    },
}


def _expected(kind: str) -> dict[str, list]:
    return {"records": [], "late": [], "errors": [], "watermarks": [], **EXPECTED[kind]}


def test_every_operator_has_a_fixture_of_every_version() -> None:
    names = {path.name for path in FIXTURES.glob("*.msgpack")}
    assert names == {f"{kind}-v{v}.msgpack" for kind, v in BLOBS}


@pytest.mark.parametrize(("kind", "version"), BLOBS)
def test_fixture_restores_and_goes_on(kind: str, version: int) -> None:
    op = build(kind)
    op.restore(msgspec.msgpack.decode(_blob(kind, version)))
    assert _go_on(op, kind) == _expected(kind)


@pytest.mark.parametrize(("kind", "version"), BLOBS)
def test_fixture_restores_to_the_state_that_wrote_it(kind: str, version: int) -> None:
    op = build(kind)
    op.restore(msgspec.msgpack.decode(_blob(kind, version)))
    upgraded = UPGRADED.get((kind, version))
    want = _blob(kind, current(kind)) if upgraded is None else msgspec.msgpack.encode(upgraded)
    assert msgspec.msgpack.encode(op.snapshot()) == want


@pytest.mark.parametrize("kind", list(FILL))
def test_the_code_writes_the_newest_version(kind: str) -> None:
    assert msgspec.msgpack.encode(filled(kind).snapshot()) == _blob(kind, current(kind))


@pytest.mark.parametrize("kind", list(FILL))
def test_snapshot_round_trips(kind: str) -> None:
    original = filled(kind)
    saved = msgspec.msgpack.encode(original.snapshot())
    restored, unencoded = build(kind), build(kind)
    restored.restore(msgspec.msgpack.decode(saved))
    unencoded.restore(filled(kind).snapshot())  # a snapshot as taken restores too
    assert msgspec.msgpack.encode(restored.snapshot()) == saved
    assert _go_on(restored, kind) == _go_on(unencoded, kind) == _go_on(original, kind)


@pytest.mark.parametrize("kind", list(FILL))
def test_a_version_from_the_future_is_refused(kind: str) -> None:
    raw = msgspec.msgpack.decode(_blob(kind, current(kind)))
    with pytest.raises(SnapshotVersionError, match="no version 99"):
        build(kind).restore({**raw, "version": 99})
