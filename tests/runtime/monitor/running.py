"""A `rillet run` in the background for the monitoring tests: its standard error read line by
line as it comes, the dashboard's address taken from its log, HTTP fetches, and a stop by
SIGINT. Waits are bounded polls for something to appear, never assertions on time."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from prometheus_client.parser import text_string_to_metric_families

T = TypeVar("T")
WAIT_S = 60.0


def eventually(check: Callable[[], T | None], what: str, wait_s: float = WAIT_S) -> T:
    """Poll `check` until it returns something other than None (or False)."""
    deadline = time.monotonic() + wait_s
    while True:
        found = check()
        if found is not None and found is not False:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"never saw {what}")
        time.sleep(0.1)


class Running:
    def __init__(self, folder: Path, *args: str, env: dict[str, str] | None = None) -> None:
        """`rillet run ARGS` in `folder`, with `env` added to the environment."""
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rillet.dsl.cli", "run", *args],
            cwd=folder,
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_line(self, pattern: str) -> re.Match[str]:
        def found() -> re.Match[str] | None:
            ended = self.process.poll() is not None and not self._reader.is_alive()
            match = next((m for line in list(self.lines) if (m := re.search(pattern, line))), None)
            if match is None and ended:
                raise AssertionError(
                    f"rillet ended ({self.process.returncode}) before "
                    f"/{pattern}/:\n" + "\n".join(self.lines)
                )
            return match

        return eventually(found, f"a line matching /{pattern}/")

    @property
    def url(self) -> str:
        return self.wait_line(r"serving (http://[0-9.]+:[0-9]+/)").group(1)

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path.lstrip("/"), timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def json(self, path: str) -> dict:
        status, body = self.get(path)
        assert status == 200, body
        return json.loads(body)

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """/metrics as {(sample name, sorted labels): value}."""
        status, body = self.get("/metrics")
        assert status == 200, body
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body)
            for s in family.samples
        }

    def stop(self) -> int:
        """SIGINT, as Ctrl-C: the run takes a last checkpoint and exits 130."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=WAIT_S)
        self._reader.join(timeout=WAIT_S)
        return code

    def stop_by_itself(self) -> int:
        """Wait for a bounded run to end on its own."""
        code = self.process.wait(timeout=WAIT_S)
        self._reader.join(timeout=WAIT_S)
        return code

    def __enter__(self) -> Running:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=WAIT_S)
        assert self.process.stderr is not None
        self.process.stderr.close()
