"""The hot loop of a pane window on event time (`PaneWindow.process`), generated per aggregate
as one Python function over a batch: a window over millions of records spends its time here, and
inlining the time check, the key and the accumulator updates saves a call per record and slot.
"""

from __future__ import annotations

from typing import Any

from .aggregate import CompiledAggregate
from .eventtime import EventTimeError, to_epoch_ms


def pane_loop(aggregate: CompiledAggregate, time_field: str, sliding: bool) -> Any:
    """The loop for `aggregate` over a window's event-time `time_field`, with no per-record call
    or tuple. Time errors come before the batch's other errors, as in the general path."""
    first_seen = ["first_seen.setdefault(start, {})[key] = arrivals", "arrivals += 1"]
    body = [
        "def _pane_loop(records, offsets, out, *, panes, first_seen, arrivals, horizon,",
        "               lateness, every, size, pane, new):",
        "    late = out.emit_late",
        "    time_error = out.error",
        "    errors = []",
        "    for r, offset in zip(records, offsets):",
        f"        ts = r.get({time_field!r})",
        "        if type(ts) is not int:",
        "            try:",
        "                ts = _to_epoch_ms(ts)",
        "            except _EventTimeError as e:",
        "                time_error(r, offset, str(e))",
        "                continue",
        "        if ts - lateness > horizon:",
        "            horizon = ts - lateness",
        "        if ts - ts % every + size <= horizon:  # the last window holding ts has closed",
        "            late(r, offset)",
        "            continue",
        "        try:",
        f"            key = {aggregate.key_code}",
        "            start = ts - ts % pane",
        "            groups = panes.get(start)",
        "            if groups is None:",
        "                groups = panes[start] = {}",
        "            accs = groups.get(key)",
        "            if accs is None:",
        "                accs = groups[key] = new()",
        *(f"                {line}" for line in (first_seen if sliding else [])),
        *(f"            {line}" for line in aggregate.update_lines),
        "        except Exception as e:  # a bad value for an aggregate or an unhashable key",
        "            errors.append((r, offset, str(e)))",
        "    out.errors += errors",
        "    return horizon, arrivals",
    ]
    namespace = {
        **aggregate.namespace,
        "_to_epoch_ms": to_epoch_ms,
        "_EventTimeError": EventTimeError,
    }
    exec(compile("\n".join(body) + "\n", "<rillet window>", "exec"), namespace)
    return namespace["_pane_loop"]
