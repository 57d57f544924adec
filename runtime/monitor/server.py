"""`rillet run --http HOST:PORT`: the run's metrics and dashboard over HTTP (`pages.py` says
what each path answers), served by one thread running an event loop of its own.

One thread, not one per connection. The run and this thread share the interpreter lock, so
every request answered is time the pipeline waits: many handler threads would each take their
turn from it, while one thread within a CPU budget (`budget.py`) takes a bounded share however
many clients ask; those beyond it wait in the listen queue (`BACKLOG`) and are answered in
turn, not refused. A connection costs no thread while it waits, so slow or silent clients
cannot pile up threads: each has `CONNECTION_TIMEOUT_S` to send its request and take the
answer, then it is closed, and at most `MAX_CONNECTIONS` are open at once (file descriptors
are the run's too). A client that hangs up early is nobody's error: a debug line, never a
traceback. As the run ends, requests already sent are answered before the socket closes.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading

from rillet.runtime.clock import SystemClock

from .access import Access
from .budget import Budget
from .monitor import Monitor
from .pages import Pages
from .request import MAX_HEAD, BadRequest, Request, Response, parse

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
BACKLOG = 1024
MAX_CONNECTIONS = 256
CONNECTION_TIMEOUT_S = 5.0
"""For one connection to send its request and take the whole answer."""
CLOSE_WAIT_S = 1.0
"""As the run ends, for the answers still being sent."""
SILENT_S = 0.5
"""As the run ends, a connection that has sent nothing for this long is let go at once."""


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


def _listen(address: tuple[str, int]) -> socket.socket:
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(address)
        listening.listen(BACKLOG)
        listening.setblocking(False)
    except OSError:
        listening.close()
        raise
    return listening


async def _read_head(loop: asyncio.AbstractEventLoop, connection: socket.socket) -> bytes | None:
    """The request's head, up to its blank line; None if the client left before sending it."""
    head = bytearray()
    while b"\r\n\r\n" not in head:
        if len(head) > MAX_HEAD:
            raise BadRequest(431, "the request head is too large")
        chunk = await loop.sock_recv(connection, 4096)
        if not chunk:
            return None
        head += chunk
    return bytes(head[: head.index(b"\r\n\r\n") + 4])


class MonitorServer:
    """Serves `monitor` on `address` from a daemon thread, between `start()` and `close()`.
    Listening starts in the constructor, so an address that cannot be used raises `OSError`
    there, before the run."""

    def __init__(
        self, monitor: Monitor, address: tuple[str, int], token: str | None = None
    ) -> None:
        self._socket = _listen(address)
        # the clients are real and so is the CPU time the thread may take: the system clock,
        # whichever clock the run itself is on
        self._clock = SystemClock()
        self._pages = Pages(monitor, self._clock)
        bound, port = self._socket.getsockname()[:2]
        self._access = Access(address[0], bound, port, token)
        self._loop = asyncio.new_event_loop()
        self._loop.set_exception_handler(_log_quietly)
        self._stop = asyncio.Event()
        self._open: dict[asyncio.Task[None], tuple[socket.socket, float]] = {}
        """Each connection being answered, and when it was accepted."""
        self._reading: set[asyncio.Task[None]] = set()
        """Connections that have not sent their whole request yet."""
        self._thread = threading.Thread(target=self._run, name="rillet http", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._socket.getsockname()[:2]
        host = f"[{host}]" if ":" in str(host) else host
        return f"http://{host}:{port}/"

    def start(self) -> None:
        self._thread.start()
        log.info("serving %s", self.url, extra={"fields": {"url": self.url}, "always": True})
        if self._access.network and self._access.token is None:
            log.warning(
                "%s is reachable beyond this machine, and anyone who reaches it can read "
                "the pipeline's graph and numbers; set RILLET_HTTP_TOKEN to require a "
                "token",
                self.url,
                extra={"fields": {"url": self.url}},
            )

    def close(self) -> None:
        """Stop serving: the requests already sent are answered, then the socket closes."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join()
        self._loop.close()
        self._socket.close()

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._serve())
        except Exception as e:  # noqa: BLE001 - a bug of ours: one line, never a traceback
            log.warning("http: serving stopped: %s: %s", type(e).__name__, e)

    async def _serve(self) -> None:
        accepting = asyncio.create_task(self._accept())
        await self._stop.wait()
        accepting.cancel()
        await asyncio.gather(accepting, return_exceptions=True)
        await self._finish()

    async def _accept(self) -> None:
        """Accept connections while fewer than MAX_CONNECTIONS are open and the thread is
        within its CPU budget (`budget.py`); answer each in a task of its own."""
        loop = asyncio.get_running_loop()
        slots = asyncio.Semaphore(MAX_CONNECTIONS)
        budget = Budget(self._clock)  # here: it measures the thread that creates it
        while True:
            await budget.wait()
            await slots.acquire()
            try:
                connection, _ = await loop.sock_accept(self._socket)
            except OSError as e:  # out of file descriptors, say: wait, then try again
                slots.release()
                log.debug("http: accept failed: %s", e)
                await self._clock.sleep(0.1)
                continue
            self._answer_on(connection).add_done_callback(lambda _: slots.release())

    async def _finish(self) -> None:
        """As the run ends: answer the requests waiting in the listen queue and those being
        read, so a scrape at that moment gets its answer, not a reset; let go at once of the
        connections that have sent nothing for a while."""
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:  # BlockingIOError: none left
                break
            connection.setblocking(False)
            self._answer_on(connection)
        self._socket.close()
        now_s = self._clock.monotonic_s()
        for task in list(self._reading):
            connection, accepted_s = self._open[task]
            if now_s - accepted_s > SILENT_S and not _has_data(connection):
                task.cancel()
        if self._open:
            await asyncio.wait(list(self._open), timeout=CLOSE_WAIT_S)
        for task in self._open:
            task.cancel()
        await asyncio.gather(*self._open, return_exceptions=True)

    def _answer_on(self, connection: socket.socket) -> asyncio.Task[None]:
        task = asyncio.create_task(self._connection(connection))
        self._open[task] = (connection, self._clock.monotonic_s())
        self._reading.add(task)
        task.add_done_callback(self._closed)
        return task

    def _closed(self, task: asyncio.Task[None]) -> None:
        self._open.pop(task)[0].close()
        self._reading.discard(task)

    async def _connection(self, connection: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        this = asyncio.current_task()
        assert this is not None
        try:
            async with asyncio.timeout(CONNECTION_TIMEOUT_S):
                try:
                    head = await _read_head(loop, connection)
                    self._reading.discard(this)
                    if head is None:
                        return
                    request = parse(head)
                except BadRequest as e:
                    await loop.sock_sendall(connection, Response.text(e.status, str(e)).encode())
                    await _linger(loop, connection)
                    return
                response = self._answer(request)
                await loop.sock_sendall(connection, response.encode(request.method != "HEAD"))
        except (OSError, TimeoutError) as e:  # the client left, or was too slow
            log.debug("http: connection dropped: %s", e or type(e).__name__)

    def _answer(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response.text(405, "only GET and HEAD", [("Allow", "GET, HEAD")])
        refusal = self._access.refusal(request)
        if refusal is not None:
            return refusal
        try:
            return self._pages.answer(request.path)
        except Exception as e:  # noqa: BLE001 - a bug of ours: one line, never a traceback
            log.warning("http: answering %s failed: %s: %s", request.path, type(e).__name__, e)
            return Response.text(500, "rillet: internal error (see the run's log)")


async def _linger(loop: asyncio.AbstractEventLoop, connection: socket.socket) -> None:
    """After an answer sent before the whole request was read: closing with unread bytes
    would reset the connection and could lose the answer, so read the rest, up to the
    client's end (within the connection's time)."""
    connection.shutdown(socket.SHUT_WR)
    while await loop.sock_recv(connection, 65536):
        pass


def _has_data(connection: socket.socket) -> bool:
    """Whether the client has sent something not read yet (or closed its side)."""
    try:
        return connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) is not None
    except BlockingIOError:
        return False
    except OSError:
        return True


def _log_quietly(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """The event loop's own complaints (asyncio would print a traceback): one debug line."""
    log.debug("http: %s", context.get("exception") or context.get("message"))
