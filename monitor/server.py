"""`rillet run --http HOST:PORT`: the run's metrics and dashboard over HTTP, from a thread.

| path | answers |
| --- | --- |
| `/metrics` | Prometheus text format (`prometheus.py`) |
| `/healthz` | 200 `{"status": "running", ...}` while the run goes on, 503 once it has ended |
| `/api/status` | the dashboard's JSON (`status.py`) |
| `/` | the dashboard (`dashboard.html`: one self-contained page, no outside resources) |

A stdlib `ThreadingHTTPServer` serves on its own thread, so a slow client never blocks the
event loop; handlers only read plain values the run and the monitor keep. Loopback unless the
user names another host.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import prometheus
from .monitor import Monitor
from .status import status

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"


def parse_address(text: str) -> tuple[str, int]:
    """`HOST:PORT`, `:PORT` or `PORT` (loopback); `[::1]:PORT` for IPv6. Port 0 picks a free
    one. `ValueError` says what is wrong."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "", text
    host = host.strip("[]") or DEFAULT_HOST
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--http expects HOST:PORT with a port from 0 to 65535, got `{text}`")
    return host, int(port)


@cache
def dashboard() -> bytes:
    return resources.files("rillet.monitor").joinpath("dashboard.html").read_bytes()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        monitor = self.server.monitor
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, CONTENT_TYPE_LATEST, generate_latest(self.server.registry))
        elif path == "/healthz":
            body = {"status": "running" if monitor.running else "finished",
                    "pipeline": monitor.title, "elapsed_s": round(monitor.elapsed_s(), 1)}
            self._json(200 if monitor.running else 503, body)
        elif path == "/api/status":
            self._json(200, status(monitor))
        elif path in ("/", "/index.html"):
            self._send(200, "text/html; charset=utf-8", dashboard())
        else:
            self._json(404, {"error": f"no such page: {path}",
                             "pages": ["/", "/metrics", "/healthz", "/api/status"]})

    def _json(self, code: int, body: object) -> None:
        self._send(code, "application/json", json.dumps(body).encode())

    def _send(self, code: int, content_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib's name
        log.debug("http: " + format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], monitor: Monitor) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.monitor = monitor
        self.registry = prometheus.registry(prometheus.Source(
            monitor.nodes, monitor.metrics, monitor.alerts.statuses, monitor.clock.time_ms,
            monitor.elapsed_s))
        super().__init__(address, _Handler)


class MonitorServer:
    """Serves `monitor` on `address` from a daemon thread, between `start()` and `close()`."""

    def __init__(self, monitor: Monitor, address: tuple[str, int]) -> None:
        self._server = _Server(address, monitor)
        self._thread = threading.Thread(target=self._server.serve_forever, name="rillet http",
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        host = f"[{host}]" if ":" in str(host) else host
        return f"http://{host}:{port}/"

    def start(self) -> None:
        self._thread.start()
        log.info("serving %s", self.url, extra={"fields": {"url": self.url}, "always": True})

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
