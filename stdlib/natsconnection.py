"""The connection to a NATS server that the `nats` source (`nats.py`) and sink (`natssink.py`)
share: connecting once, with an error that says why when the server is down; nats-py's own
reconnecting afterwards; requests retried with backoff for `retry_timeout` meanwhile; and a
subject's default stream, created when missing."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from rillet.runtime.plugin import Clock, ConnectorError

from .retry import Backoff

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
RECONNECT_WAIT_S = 0.25
REQUEST_TIMEOUT_S = 5.0


def stream_name(subject: str) -> str:
    """The default stream of a subject: its name with `.`, `*` and `>` made `_`, upper-case."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", subject).strip("_").upper() or "RILLET"


class Connection:
    """A connection to a NATS server and the retry policy around requests."""

    def __init__(self, url: str, who: str, clock: Clock, retry_timeout_s: float) -> None:
        self.url = url
        self.who = who
        self.clock = clock
        self.retry_timeout_s = retry_timeout_s
        self.nc: Any = None
        self.js: Any = None
        self.closing = False

    async def open(self) -> None:
        # imported here: nats-py takes 0.15 s to import, which no pipeline without it should pay
        import nats
        import nats.errors

        self.errors = nats.errors
        self.lost = (
            nats.errors.TimeoutError,
            nats.errors.ConnectionClosedError,
            nats.errors.NoRespondersError,
            nats.errors.StaleConnectionError,
            nats.errors.FlushTimeoutError,
            nats.errors.OutboundBufferLimitError,
            nats.errors.ConnectionReconnectingError,
            TimeoutError,
            OSError,
        )

        last_error: list[Exception] = []

        async def on_error(error: Exception) -> None:
            last_error[:] = [error]
            log.debug("%s: nats: %s", self.who, error)

        async def on_disconnect() -> None:
            if self.closing:
                return
            log.warning("%s: lost nats at %s; reconnecting", self.who, self.url)

        async def on_reconnect() -> None:
            log.warning("%s: nats at %s is back", self.who, self.url)

        try:
            # one retry at start, so that a server that is down is an error; afterwards the
            # client reconnects for as long as it takes and `request` bounds the wait
            self.nc = await nats.connect(
                self.url,
                connect_timeout=CONNECT_TIMEOUT_S,
                reconnect_time_wait=RECONNECT_WAIT_S,
                max_reconnect_attempts=1,
                error_cb=on_error,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
            )
        except (TimeoutError, OSError, nats.errors.Error) as e:
            reason = _reason(last_error[0] if last_error else e)  # rather than "no servers"
            raise ConnectorError(
                f"{self.who}: cannot connect to nats at {self.url}: {reason} "
                "(is the server running and reachable?)"
            ) from e
        self.nc.options["max_reconnect_attempts"] = -1
        self.js = self.nc.jetstream(timeout=REQUEST_TIMEOUT_S)

    async def request(self, what: str, send: Callable[[], Awaitable[Any]]) -> Any:
        """`await send()`, sent again after a pause while the server is unreachable."""
        backoff = Backoff(self.clock, self.retry_timeout_s)
        while True:
            try:
                return await send()
            except self.lost as e:
                if not await backoff.wait():
                    raise ConnectorError(
                        f"{self.who}: nats at {self.url} went away and did not come back within "
                        f"{self.retry_timeout_s:g}s ({what}: {_reason(e)})"
                    ) from e

    async def ensure_stream(self, stream: str, subject: str) -> None:
        from nats.js.errors import APIError, NotFoundError

        try:
            await self.request("stream info", lambda: self.js.stream_info(stream))
        except NotFoundError:
            try:
                await self.request(
                    "create stream", lambda: self.js.add_stream(name=stream, subjects=[subject])
                )
            except APIError as e:
                raise ConnectorError(
                    f"{self.who}: cannot create stream `{stream}` for "
                    f"`{subject}` on nats at {self.url}: {e.description}"
                ) from e

    async def aclose(self) -> None:
        if self.nc is not None:
            nc, self.nc = self.nc, None
            self.closing = True
            if not nc.is_closed:
                await nc.close()


def _reason(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text.removeprefix("nats: ").rstrip(".")
