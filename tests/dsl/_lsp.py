"""A tiny LSP client for the language server's tests: it starts `rillet lsp` and speaks
Content-Length framed JSON-RPC on its stdio, as an editor does.

A thread reads the server's messages into a queue, so every wait is bounded (`WAIT_S`) and a
server that stops answering fails the test instead of hanging it."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

WAIT_S = 60


class LspClient:
    def __init__(self, cwd: Path, environ: dict[str, str] | None = None) -> None:
        self.log = cwd / "lsp-stderr.log"
        self._log_file = self.log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rillet.dsl.cli", "lsp"],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            env={**os.environ, **(environ or {})},
        )
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.notifications: list[dict[str, Any]] = []
        self.next_id = 0
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stream: IO[bytes]) -> None:
        while True:
            headers: dict[str, str] = {}
            while (line := stream.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("ascii").partition(":")
                headers[name.strip().lower()] = value.strip()
            if not headers:  # the server closed its output
                self.messages.put(None)
                return
            self.messages.put(json.loads(stream.read(int(headers["content-length"]))))

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self.process.stdin.flush()

    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    def request(self, method: str, params: Any) -> Any:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        reply = self._wait(lambda m: m.get("id") == self.next_id and "method" not in m)
        assert "error" not in reply, reply["error"]
        return reply.get("result")

    def notification(self, method: str, **matching: Any) -> dict[str, Any]:
        """The params of the first notification `method` not taken yet whose params hold
        `matching`, waiting for it if need be."""

        def fits(m: dict[str, Any]) -> bool:
            params = m.get("params", {})
            return m.get("method") == method and all(
                params.get(k) == v for k, v in matching.items()
            )

        taken = next((m for m in self.notifications if fits(m)), None)
        if taken is None:
            taken = self._wait(fits)
        else:
            self.notifications.remove(taken)
        return taken["params"]

    def _wait(self, wanted: Any) -> dict[str, Any]:
        while True:
            message = self.messages.get(timeout=WAIT_S)
            assert message is not None, f"the server stopped: {self.log.read_text()}"
            if "method" in message and "id" in message:  # a request of the server's
                self.send({"id": message["id"], "result": None})
            elif wanted(message):
                return message
            elif "id" not in message:
                self.notifications.append(message)

    def stop(self) -> int:
        """`shutdown` then `exit`, as an editor closes; the server's exit code."""
        self.request("shutdown", None)
        self.notify("exit", None)
        return self.process.wait(timeout=WAIT_S)

    def close(self) -> None:
        """End the server if a failed test left it running, and close its pipes."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=WAIT_S)
        for stream in (self.process.stdin, self.process.stdout, self._log_file):
            if stream is not None:
                stream.close()
