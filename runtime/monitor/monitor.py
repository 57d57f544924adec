"""Watching one run: once a second, sample its metrics, evaluate its alerts, log what changed,
and redraw the terminal view (or, every few seconds, write the plain lines).

A `Monitor` runs as one more task in the run's event loop, beside the execution (the CLI starts
it in the same task group), and reads time only through the execution's clock. What it last
saw (`latest`, the alert statuses, the lag history) is plain data that the HTTP thread
(`server.py`) reads. Read next: `snapshot.py` for what is measured, `alert.py` for alerts.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

from rillet.runtime.capability import ReportsProgress

from . import plain, units
from .alert import Alerts
from .observed import ObservedRun
from .snapshot import Sampler, Snapshot, topology

log = logging.getLogger(__name__)

TICK_S = 1.0
PLAIN_EVERY_S = 5.0
LAG_HISTORY = 600
"""Samples of the watermark lag kept for the dashboard's chart (10 minutes at one a second)."""
DISPLAYS = ("live", "plain", "none")


def _progress(execution: ObservedRun, name: str) -> Callable[[], tuple[int, int] | None]:
    """A source's `progress()`, looked up when called: sources are opened by the run."""

    def read() -> tuple[int, int] | None:
        source = execution.sources.get(name)
        return source.progress() if isinstance(source, ReportsProgress) else None

    return read


class Monitor:
    """`display` is `live` (the terminal view), `plain` (log lines every `plain_every_s`) or
    `none`; alerts and checkpoints are logged whatever the display."""

    def __init__(
        self,
        execution: ObservedRun,
        display: str = "none",
        title: str = "",
        tick_s: float = TICK_S,
        plain_every_s: float = PLAIN_EVERY_S,
    ) -> None:
        assert display in DISPLAYS
        self.clock = execution.clock
        self.display = display
        self.title = title
        self.tick_s = tick_s
        self.plain_every_s = plain_every_s
        self.nodes = topology(execution.physical)
        self.metrics = execution.metrics
        self.alerts = Alerts(execution.plan.alerts)
        self.started_s = self.clock.monotonic_s()
        self.sampler = Sampler(
            self.nodes,
            self.metrics,
            self.started_s,
            {n.id: _progress(execution, n.name) for n in self.nodes if n.kind == "source"},
        )
        self.lag_history: deque[tuple[int, int]] = deque(maxlen=LAG_HISTORY)
        """(wall-clock ms, the largest watermark lag in ms) per tick that had a watermark."""
        self.running = True
        self._checkpoints_logged = 0
        self._next_plain_s = self.started_s + plain_every_s
        self.latest: Snapshot = self.tick()  # the baseline that the first rates start from

    def elapsed_s(self) -> float:
        return self.clock.monotonic_s() - self.started_s

    def tick(self) -> Snapshot:
        """Sample, evaluate the alerts, log what changed; the snapshot taken."""
        snapshot = self.sampler.take(self.clock.monotonic_s(), self.clock.time_ms())
        self.latest = snapshot
        lags = [n.watermark_lag_ms for n in snapshot.nodes if n.watermark_lag_ms is not None]
        if lags:
            self.lag_history.append((snapshot.time_ms, max(lags)))
        for change in self.alerts.evaluate(snapshot):
            status = change.status
            fields = {
                "alert": status.alert.name,
                "condition": status.alert.condition,
                "value": status.value,
                "node": status.where,
                "state": "firing" if change.fired else "cleared",
            }
            if change.fired:
                log.warning(
                    "alert `%s` firing: %s (now %s)",
                    status.alert.name,
                    status.alert.condition,
                    status.shown,
                    extra={"fields": fields},
                )
            else:
                log.info(
                    "alert `%s` cleared: %s (now %s)",
                    status.alert.name,
                    status.alert.condition,
                    status.shown,
                    extra={"fields": fields},
                )
        self._log_checkpoints()
        if self.display == "plain" and snapshot.at_s >= self._next_plain_s:
            self._next_plain_s += self.plain_every_s
            for line, fields in plain.lines(snapshot, self.alerts.statuses):
                log.info("%s", line, extra={"fields": fields})
        return snapshot

    def _log_checkpoints(self) -> None:
        checkpoints = self.metrics.checkpoints
        new = checkpoints.completed - self._checkpoints_logged
        self._checkpoints_logged = checkpoints.completed
        for record in list(checkpoints.history)[-new:] if new > 0 else []:
            took = "" if record.duration_s is None else f" in {units.seconds(record.duration_s)}"
            log.info(
                "checkpoint %d saved%s, state %s",
                record.checkpoint_id,
                took,
                units.size(record.size_bytes),
                extra={
                    "fields": {
                        "checkpoint": record.checkpoint_id,
                        "duration_s": record.duration_s,
                        "size_bytes": record.size_bytes,
                    }
                },
            )

    async def run(self) -> None:
        """Tick until cancelled (when the run ends); on a terminal, redraw the view each tick."""
        if self.display == "live":
            await self._run_live()
        while True:
            await self.clock.sleep(self.tick_s)
            self.tick()

    async def _run_live(self) -> None:
        from .terminal import live  # rich takes a tenth of a second to import: only here

        with live() as view:
            while True:
                view(self.latest, self.alerts.statuses, self.title)
                await self.clock.sleep(self.tick_s)
                self.tick()
