"""Alerts declared in the pipeline file (`alert NAME when MEASURE OP THRESHOLD [for D]`),
evaluated on each snapshot.

An alert fires once its condition has held at every evaluation for its `for` duration (at the
first evaluation that holds, without one) and clears at the first evaluation where it no longer
holds. Rates (`error_rate`, `late_rate`, `input_rate`) are taken over the last `WINDOW_S`
seconds, so one odd second neither fires nor clears them. A measure that cannot be computed yet
(no watermark, nothing read in the window) does not hold. The measures are listed, with their
units, in `rillet.runtime.plan.ALERT_MEASURES`.
"""

from __future__ import annotations

import operator
from collections import deque

import msgspec

from rillet.runtime.plan import ALERT_MEASURES, Alert

from . import units
from .snapshot import Snapshot

WINDOW_S = 10.0
_COMPARE = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


class AlertStatus(msgspec.Struct):
    alert: Alert
    active: bool = False
    holding_since_s: float | None = None
    """When the condition began to hold (monotonic), while it does."""
    value: float | None = None
    """The measure at the last evaluation, in the measure's unit (share, ms, records/s)."""
    where: str | None = None
    """The node the value was measured at, for per-node measures."""

    @property
    def shown(self) -> str:
        """The last value as the pipeline file would write it, with where it was measured."""
        if self.value is None:
            return "n/a"
        unit = ALERT_MEASURES[self.alert.measure][0]
        if unit == "share":
            text = units.percent(self.value)
        elif unit == "duration":
            text = units.seconds(self.value / 1000)
        else:
            text = units.rate(self.value)
        return f"{text} at {self.where}" if self.where else text


class Change(msgspec.Struct, frozen=True):
    status: AlertStatus
    fired: bool
    """True: the alert became active; False: it cleared."""


class Alerts:
    def __init__(self, alerts: tuple[Alert, ...] | list[Alert]) -> None:
        self.statuses = [AlertStatus(a) for a in alerts]
        self._window: deque[Snapshot] = deque(maxlen=64)

    def evaluate(self, snapshot: Snapshot) -> list[Change]:
        """Measure every alert on `snapshot`; the alerts that fired or cleared. The first
        snapshot evaluated is the baseline that rates start from (the monitor's, at the start
        of the run)."""
        window = self._window
        window.append(snapshot)
        while snapshot.at_s - window[0].at_s > WINDOW_S and len(window) > 2:
            window.popleft()
        changes = []
        for status in self.statuses:
            alert = status.alert
            status.value, status.where = measure(alert.measure, snapshot, window[0])
            holds = status.value is not None and _COMPARE[alert.op](status.value, alert.threshold)
            if not holds:
                status.holding_since_s = None
                if status.active:
                    status.active = False
                    changes.append(Change(status, False))
                continue
            if status.holding_since_s is None:
                status.holding_since_s = snapshot.at_s
            held_ms = (snapshot.at_s - status.holding_since_s) * 1000
            if not status.active and held_ms >= alert.hold_ms:
                status.active = True
                changes.append(Change(status, True))
        return changes


def measure(name: str, now: Snapshot, then: Snapshot) -> tuple[float | None, str | None]:
    """The measure `name` at `now` (rates since `then`), and the node it was measured at."""
    if name == "backpressure":
        fullest = max(
            (n for n in now.nodes if n.fill is not None), default=None, key=lambda n: n.fill or 0.0
        )
        return (None, None) if fullest is None else (fullest.fill, fullest.info.label)
    if name == "watermark_lag":
        lagging = max(
            (n for n in now.nodes if n.watermark_lag_ms is not None),
            default=None,
            key=lambda n: n.watermark_lag_ms or 0,
        )
        if lagging is None:
            return None, None
        return float(lagging.watermark_lag_ms or 0), lagging.info.label
    if name == "checkpoint_age":
        return now.checkpoint_age_s * 1000, None
    read = now.read - then.read
    if name == "input_rate":
        seconds = now.at_s - then.at_s
        return (read / seconds if seconds > 0 else None), None
    counted = now.errors - then.errors if name == "error_rate" else now.late - then.late
    return (counted / read if read > 0 else None), None
