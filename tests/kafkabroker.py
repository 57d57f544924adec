"""A Kafka broker of a test's own, on a free port (scripts/services/kafka.sh with `KAFKA_PORT`),
which the test may stall, stop and start again without disturbing the shared one of
tests/servers.py that other tests use. Its topics are kept by an S3 server (moto's, a process
of its own that outlives the broker), so a broker stopped and started again still has them, as
a real Kafka cluster would.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import REPO
from tests.servers import answering

SCRIPT = REPO / "scripts" / "services" / "kafka.sh"
BUCKET = "tansu"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """The broker at `url`; `pause` and `resume` stall it (SIGSTOP, SIGCONT: clients see
    timeouts), `stop` and `start` end it and bring it back with its topics."""

    def __init__(self, s3_url: str) -> None:
        self.port = free_port()
        self.url = f"127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "PYTHON": sys.executable,  # the broker's binary is a package of this interpreter
            "KAFKA_PORT": str(self.port),
            "KAFKA_STORAGE": f"s3://{BUCKET}/",
            "AWS_ENDPOINT": s3_url,
            "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        self.pidfile = REPO / ".services" / f"kafka-{self.port}" / "tansu.pid"

    def _script(self, action: str) -> None:
        done = subprocess.run(
            ["bash", str(SCRIPT), action], env=self.env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, f"kafka.sh {action}:\n{done.stdout}{done.stderr}"

    def start(self) -> None:
        self._script("start")

    def stop(self) -> None:
        self.resume()  # a stalled process would take the script's 20 s to end
        self._script("stop")

    def pause(self) -> None:
        os.kill(self.pid(), signal.SIGSTOP)

    def resume(self) -> None:
        if self.pidfile.exists():
            os.kill(self.pid(), signal.SIGCONT)

    def pid(self) -> int:
        return int(self.pidfile.read_text())


@contextmanager
def s3_server(folder: Path) -> Iterator[str]:
    """moto's S3 server on a free port, holding the broker's bucket; its URL."""
    port = free_port()
    with open(folder / "s3.log", "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while not answering(port):
            assert server.poll() is None, (folder / "s3.log").read_text()
            assert time.monotonic() < deadline, "the S3 server did not answer"
            time.sleep(0.1)
        url = f"http://127.0.0.1:{port}"
        urllib.request.urlopen(urllib.request.Request(f"{url}/{BUCKET}", method="PUT")).close()
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@contextmanager
def own_broker(folder: Path) -> Iterator[Broker]:
    """A broker of the caller's own, running; ended afterwards, whatever state it was left in."""
    with s3_server(folder) as s3:
        broker = Broker(s3)
        try:
            broker.start()
            yield broker
        finally:
            broker.stop()
            shutil.rmtree(broker.pidfile.parent)  # its log and pid file
