"""The hot loop of a session window (`SessionWindow.process`), generated per aggregate as one
Python function over a batch: the key and the accumulator updates are inlined, so a record that
extends its key's newest session, or opens one after it (the common cases when times come in
order), costs no call, no merge and no sort. Anything else — a record older than the key's newest
session, which may merge sessions or be late — is handed to the window's `_place`.
"""

from __future__ import annotations

import heapq
from typing import Any

from .aggregate import CompiledAggregate
from .codegen import Writer, define
from .eventtime import EventTimeError, to_epoch_ms

_SIGNATURE = (
    "def _session_loop(records, offsets, out, window, *, now, table, ends, arrivals, horizon,"
    " lateness, gap, new):"
)


def session_loop(aggregate: CompiledAggregate, time_field: str | None) -> Any:
    """The loop for `aggregate` over event-time `time_field`, or over the clock's time `now`
    when there is none. It returns `(horizon, arrivals)`; errors of event time come before the
    batch's other errors, as the general path reports them."""
    w = Writer()
    with w.block(_SIGNATURE):
        w.line("late = out.emit_late", "time_error = out.error", "errors = []")
        w.line("newest_seen = horizon + lateness  # the horizon moves when a time passes it")
        with w.block("for index, r in enumerate(records):  # offsets read only when one is needed"):
            _emit_time(w, time_field)
            with w.block("try:"):
                w.line(f"key = {aggregate.key_code}", "sessions = table.get(key)")
                with w.block("if ts > newest_seen:"):
                    w.line("newest_seen = ts", "horizon = ts - lateness")
                with w.block("if sessions is not None:"):
                    w.line("newest = sessions[-1]")
                    with w.block("if ts < newest[0]:  # before the newest session: the slow way"):
                        _emit_place(w)
                    with w.block("if ts < newest[1]:  # inside it: it grows"):
                        _emit_extend(w, aggregate)
                _emit_open(w, aggregate)
            with w.block("except Exception as e:"):  # a bad value for an aggregate, a bad key
                w.line("errors.append((r, offsets[index], str(e)))")
        w.line("out.errors += errors", "return horizon, arrivals")
    namespace = {
        **aggregate.namespace,
        "_to_epoch_ms": to_epoch_ms,
        "_EventTimeError": EventTimeError,
        "_heappush": heapq.heappush,
    }
    (loop,) = define(w, "session", namespace, "_session_loop")
    return loop


def _emit_time(w: Writer, time_field: str | None) -> None:
    """Write the record's time into `ts`, or send the record to the time errors and go on."""
    if time_field is None:
        w.line("ts = now")
        return
    with w.block("try:"):
        w.line(f"ts = r[{time_field!r}]")
    with w.block("except KeyError:"):
        w.line("ts = None  # no event time: a time error below")
    with w.block("if type(ts) is not int:"):
        with w.block("try:"):
            w.line("ts = _to_epoch_ms(ts)")
        with w.block("except _EventTimeError as e:"):
            w.line("time_error(r, offsets[index], str(e))", "continue")


def _emit_place(w: Writer) -> None:
    """Hand the record to `window._place`, which reads and moves the window's own horizon and
    arrival count."""
    w.line(
        "window.horizon, window.arrivals = horizon, arrivals",
        "window._place(r, offsets, index, key, ts, sessions, out)",
        "horizon, arrivals = window.horizon, window.arrivals",
        "newest_seen = horizon + lateness",
        "continue",
    )


def _emit_extend(w: Writer, aggregate: CompiledAggregate) -> None:
    """The record falls inside the key's newest session: update it in place and move its end,
    unless it has closed already (then the record is late)."""
    w.line("end = ts + gap")
    with w.block("if end < newest[1]:"):
        w.line("end = newest[1]")
    with w.block("if end <= horizon:"):
        w.line("late(r, offsets[index])", "continue")
    w.line("accs = newest[2]", *aggregate.update_lines, "newest[1] = end", "arrivals += 1")
    w.line("continue")


def _emit_open(w: Writer, aggregate: CompiledAggregate) -> None:
    """The record comes at or after the end of every session of its key: it opens one after
    them (its accumulators updated first, so that a bad value leaves no session behind)."""
    w.line("end = ts + gap")
    with w.block("if end <= horizon:"):
        w.line("late(r, offsets[index])", "continue")
    w.line("accs = new()", *aggregate.update_lines)
    with w.block("if sessions is None:"):
        w.line("table[key] = [[ts, end, accs, arrivals]]")
    with w.block("else:"):
        w.line("sessions.append([ts, end, accs, arrivals])")
    w.line("_heappush(ends, (end, arrivals, key))", "arrivals += 1")
