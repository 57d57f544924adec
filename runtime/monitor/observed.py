"""What the monitor reads of a run, and nothing more: the monitor watches any run that offers
these (an `Execution`, or a test's stand-in), and the run's own code can change freely behind
them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from rillet.runtime.clock import Clock
from rillet.runtime.compile import PhysicalPlan
from rillet.runtime.metrics import RunMetrics
from rillet.runtime.plan import Plan


class ObservedRun(Protocol):
    @property
    def sources(self) -> Mapping[str, Any]:
        """The run's sources by name, once opened: a `ReportsProgress` one feeds the bar."""

    @property
    def clock(self) -> Clock: ...

    @property
    def physical(self) -> PhysicalPlan:
        """The nodes and edges, for the topology the views draw."""

    @property
    def metrics(self) -> RunMetrics:
        """The counters the run keeps, sampled once a second."""

    @property
    def plan(self) -> Plan:
        """The pipeline's alerts."""
