"""Clients that lean on `rillet run --http` the way a crowd or a careless script would: many
scrapes at once, clients that hang up before the answer, clients that connect and send nothing.
Raw sockets on an asyncio loop of their own (in a thread), so hundreds of them cost the test
process little. Used by the HTTP tests (which count failures, never time) and by
`bench/http_load.py` (which times whole runs with and without them)."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

TIMEOUT_S = 30.0
"""How long one request may take before it counts as failed: generous, since the answer to a
burst may queue, but a request the server dropped or never answered fails."""


@dataclass
class Tally:
    ok: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    """Why requests failed: `reset`, `timeout`, `refused`, `HTTP 500`..."""
    last_ok_s: float = 0.0
    """When the last answer came (`time.monotonic`)."""
    failed_at: list[float] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(self.failed.values())

    @property
    def failures_while_serving(self) -> int:
        """Those before the last answer, not those of a server that has gone (connections
        refused as a run ends): the clients take their answers in no set order, so those in
        the last tenth of a second before the last answer are counted with the latter."""
        return sum(at < self.last_ok_s - 0.1 for at in self.failed_at)


def _request(url: str, path: str, headers: dict[str, str]) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return parts.hostname, parts.port, ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _one(host: str, port: int, request: bytes) -> str | None:
    """One request; None when it got a 200 with a body, else why not."""
    try:
        async with asyncio.timeout(TIMEOUT_S):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(request)
                await writer.drain()
                answer = await reader.read()
            finally:
                writer.close()
    except TimeoutError:
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    except OSError as e:
        return type(e).__name__
    head, _, body = answer.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1:2]
    if status != [b"200"]:
        return f"HTTP {status[0].decode() if status else 'no answer'}"
    return None if body else "empty body"


async def _crowd(
    url: str, path: str, clients: int, headers: dict[str, str], stop: threading.Event, tally: Tally
) -> None:
    host, port, request = _request(url, path, headers)

    async def client() -> None:
        while not stop.is_set():
            why = await _one(host, port, request)
            if why is None:
                tally.ok += 1
                tally.last_ok_s = time.monotonic()
            else:
                tally.failed[why] += 1
                tally.failed_at.append(time.monotonic())

    await asyncio.gather(*(client() for _ in range(clients)))


@contextmanager
def crowd(
    url: str, clients: int, path: str = "/metrics", headers: dict[str, str] | None = None
) -> Iterator[Tally]:
    """`clients` clients each requesting `path` again and again while the block runs; the
    tally is complete once the block has ended (each client finishes its last request)."""
    tally, stop = Tally(), threading.Event()
    thread = threading.Thread(
        target=asyncio.run,
        daemon=True,
        args=(_crowd(url, path, clients, headers or {}, stop, tally),),
    )
    thread.start()
    try:
        yield tally
    finally:
        stop.set()
        thread.join(TIMEOUT_S + 10)


def _hang_up(host: str, port: int, request: bytes) -> None:
    """Send the request and close at once with a reset (SO_LINGER 0): the server's answer
    meets a closed connection."""
    with socket.create_connection((host, port), timeout=TIMEOUT_S) as s:
        s.sendall(request)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def hang_up_early(
    url: str, times: int, path: str = "/metrics", headers: dict[str, str] | None = None
) -> None:
    """`times` clients that ask for `path` and leave before reading the answer."""
    host, port, request = _request(url, path, headers or {})
    for _ in range(times):
        _hang_up(host, port, request)


@contextmanager
def silent(
    url: str, clients: int, send: Callable[[int], bytes] = lambda _: b"GET /metr"
) -> Iterator[list[socket.socket]]:
    """`clients` connections that send the start of a request (`send(i)`) and then nothing
    more, held open while the block runs."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    held = []
    try:
        for i in range(clients):
            s = socket.create_connection((parts.hostname, parts.port), timeout=TIMEOUT_S)
            held.append(s)
            s.sendall(send(i))
        yield held
    finally:
        for s in held:
            s.close()
