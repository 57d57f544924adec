"""The real servers the tests use (Redis, NATS JetStream, PostgreSQL, and Tansu as the Kafka
broker), each on 127.0.0.1 on a port of the project's own. A test that needs one starts it when
it is not answering (`scripts/services.sh start NAME`), so `pytest` alone works on a developer's
machine once the Debian packages are installed (`scripts/install-system-packages.sh`) and the
test extra (which has the Tansu binary). Never skipped: a server that cannot be started fails
the test that needs it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from tests.conftest import REPO


@dataclass(frozen=True)
class Server:
    name: str
    port: int
    url: str


REDIS = Server("redis", 16379, "redis://127.0.0.1:16379/0")
NATS = Server("nats", 14222, "nats://127.0.0.1:14222")
POSTGRES = Server("postgres", 15432, "postgresql://rillet@127.0.0.1:15432/rillet")
KAFKA = Server("kafka", 19092, "127.0.0.1:19092")


def answering(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def ensure(server: Server, timeout_s: float = 60) -> Server:
    """Start `server` unless it already answers; fail with the script's output if it cannot."""
    if answering(server.port):
        return server
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "services.sh"), "start", server.name],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, "PYTHON": sys.executable},  # the broker's binary is a package here
    )
    assert done.returncode == 0, f"could not start {server.name}:\n{done.stdout}{done.stderr}"
    deadline = time.monotonic() + timeout_s
    while not answering(server.port):
        assert time.monotonic() < deadline, f"{server.name} is not answering on {server.port}"
        time.sleep(0.1)
    return server


def redis_client() -> Any:
    """A client of the test Redis, once it answers: a server just started may still be
    loading its data (`BusyLoadingError`)."""
    import redis

    client = redis.Redis.from_url(ensure(REDIS).url)
    deadline = time.monotonic() + 30
    while True:
        try:
            client.ping()
            return client
        except redis.BusyLoadingError:
            assert time.monotonic() < deadline, "Redis kept loading its data"
            time.sleep(0.2)


def stop(server: Server) -> None:
    """Stop `server` (tests of a server going away mid-run); `ensure` brings it back."""
    subprocess.run(
        ["bash", str(REPO / "scripts" / "services.sh"), "stop", server.name],
        check=True,
        capture_output=True,
        timeout=60,
    )
