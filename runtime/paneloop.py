"""The hot loop of a pane window on event time (`PaneWindow.process`), generated per aggregate
as one Python function over a batch: a window over millions of records spends its time here, and
inlining the time check, the key and the accumulator updates saves a call per record and slot.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .aggregate import CompiledAggregate
from .codegen import Writer, define
from .eventtime import EventTimeError, to_epoch_ms

_SIGNATURE = (
    "def _pane_loop(records, offsets, out, *, panes, first_seen, arrivals, horizon, lateness,"
    " every, size, pane, new, changed):"
)


def pane_loop(
    aggregate: CompiledAggregate,
    time_field: str,
    sliding: bool,
    early: bool,
    time_attr: str | None = None,
) -> Any:
    """The loop for `aggregate` over a window's event-time `time_field`, with no per-record call
    or tuple. Time errors come before the batch's other errors, as in the general path. With
    `early` (`emit every`), each record's pane and key go into `changed`. With `time_attr`, the
    records are Structs (`typedflow.py`): the time is that attribute, and a record sent aside
    (late, bad) goes as a dict."""
    record = "r" if time_attr is None else "_as_record(r)"
    w = Writer()
    with w.block(_SIGNATURE):
        w.line("late = out.emit_late", "time_error = out.error", "errors = []")
        w.line("last_start = groups = None  # records come mostly in time order: one pane")
        with w.block("for index, r in enumerate(records):  # offsets read only when one is needed"):
            _emit_time_check(w, time_field, time_attr, record)
            with w.block("try:"):
                w.line(f"key = {aggregate.key_code}", "start = ts - ts % pane")
                with w.block("if start != last_start:"):
                    w.line("groups = panes.get(start)")
                    with w.block("if groups is None:"):
                        w.line("groups = panes[start] = {}")
                    w.line("last_start = start")
                w.line("accs = groups.get(key)")
                with w.block("if accs is None:"):
                    w.line("accs = groups[key] = new()")
                    if sliding:
                        w.line("first_seen.setdefault(start, {})[key] = arrivals", "arrivals += 1")
                w.line(*aggregate.update_lines)
                if early:
                    w.line("changed.setdefault(start, {})[key] = None")
            with w.block("except Exception as e:"):  # a bad value for an aggregate, a bad key
                w.line(f"errors.append(({record}, offsets[index], str(e)))")
        w.line("out.errors += errors", "return horizon, arrivals")
    namespace = {
        **aggregate.namespace,
        "_to_epoch_ms": to_epoch_ms,
        "_EventTimeError": EventTimeError,
        "_as_record": msgspec.to_builtins,
    }
    (loop,) = define(w, "window", namespace, "_pane_loop")
    return loop


def _emit_time_check(w: Writer, time_field: str, time_attr: str | None, record: str) -> None:
    """Write the record's event time into `ts`, or send the record (as `record` reads it) to
    the time errors or the late records and go on with the next."""
    w.line(f"ts = r.get({time_field!r})" if time_attr is None else f"ts = r.{time_attr}")
    with w.block("if type(ts) is not int:"):
        with w.block("try:"):
            w.line("ts = _to_epoch_ms(ts)")
        with w.block("except _EventTimeError as e:"):
            w.line(f"time_error({record}, offsets[index], str(e))", "continue")
    with w.block("if ts - lateness > horizon:"):
        w.line("horizon = ts - lateness")
    with w.block("if ts - ts % every + size <= horizon:  # the last window holding ts has closed"):
        w.line(f"late({record}, offsets[index])", "continue")
