"""What each path of `--http` answers, from what the run and its monitor keep.

| path | answers |
| --- | --- |
| `/metrics` | Prometheus text format (`prometheus.py`) |
| `/healthz` | 200 `{"status": "running", ...}` while the run goes on, 503 once it has ended |
| `/api/status` | the dashboard's JSON (`status.py`) |
| `/` | the dashboard (`dashboard.html`: one self-contained page, no outside resources) |

`/metrics` and `/api/status` are rendered at most once every `FRESH_S` and the same bytes
served to every request in between: a burst of scrapes costs one rendering, not one each, and
the numbers they would have missed are at most half a second old (the monitor itself samples
once a second).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from rillet.runtime.clock import Clock

from . import prometheus
from .monitor import Monitor
from .request import Response
from .status import status

FRESH_S = 0.5
PAGES = ["/", "/metrics", "/healthz", "/api/status"]


@cache
def dashboard() -> bytes:
    return resources.files("rillet.runtime.monitor").joinpath("dashboard.html").read_bytes()


class Cached:
    """`render()`'s last result, rendered again once it is older than `fresh_s`."""

    def __init__(self, render: Callable[[], bytes], clock: Clock, fresh_s: float = FRESH_S) -> None:
        self.render = render
        self.clock = clock
        self.fresh_s = fresh_s
        self._body = b""
        self._rendered_s = float("-inf")

    def __call__(self) -> bytes:
        now = self.clock.monotonic_s()
        if now - self._rendered_s >= self.fresh_s:
            self._body = self.render()
            self._rendered_s = now
        return self._body


class Pages:
    """Answers a path. Called from the HTTP thread only, which is what makes the caches safe;
    it only reads plain values the run and the monitor keep."""

    def __init__(self, monitor: Monitor, clock: Clock) -> None:
        self.monitor = monitor
        registry = prometheus.registry(
            prometheus.Source(
                monitor.nodes,
                monitor.metrics,
                monitor.alerts.statuses,
                monitor.clock.time_ms,
                monitor.elapsed_s,
            )
        )
        self.metrics = Cached(lambda: generate_latest(registry), clock)
        self.status = Cached(lambda: json.dumps(status(monitor)).encode(), clock)

    def answer(self, path: str) -> Response:
        if path == "/metrics":
            return Response(200, CONTENT_TYPE_LATEST, self.metrics())
        if path == "/healthz":
            monitor = self.monitor
            return _json(
                200 if monitor.running else 503,
                {
                    "status": "running" if monitor.running else "finished",
                    "pipeline": monitor.title,
                    "elapsed_s": round(monitor.elapsed_s(), 1),
                },
            )
        if path == "/api/status":
            return Response(200, "application/json", self.status())
        if path in ("/", "/index.html"):
            return Response(200, "text/html; charset=utf-8", dashboard())
        return _json(404, {"error": f"no such page: {path}", "pages": PAGES})


def _json(code: int, body: object) -> Response:
    return Response(code, "application/json", json.dumps(body).encode())
