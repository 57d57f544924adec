"""The connection to a Redis server that the `redis_stream` source (`redis_stream.py`) and sink
(`redisstreamsink.py`) share: connecting, with an error that says why when the server is down,
and requests sent again with backoff for `retry_timeout` while it is unreachable (redis-py's own
retries are off, so that the source knows when a reply may have been lost)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rillet.runtime.plugin import Clock, ConnectorError

from .retry import Backoff

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0


class Connection:
    """A client for one server, and the retry policy: a request that fails because the server
    is unreachable is sent again after a growing pause, for at most `retry_timeout_s`."""

    def __init__(self, url: str, who: str, clock: Clock, retry_timeout_s: float) -> None:
        self.url = url
        self.who = who
        self.clock = clock
        self.retry_timeout_s = retry_timeout_s
        self.client: Any = None
        self.failures = 0
        """Requests that failed because the server went away (the owner checks it to know
        when to re-read its pending entries)."""

    async def open(self) -> None:
        # imported here: redis-py takes 0.15 s to import, which no pipeline without it should pay
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import BusyLoadingError, ResponseError
        from redis.exceptions import ConnectionError as LostConnection
        from redis.exceptions import TimeoutError as LostTimeout

        self.lost = (LostConnection, LostTimeout, BusyLoadingError, OSError)
        self.refused = ResponseError
        try:
            self.client = aioredis.from_url(
                self.url,
                retry=Retry(NoBackoff(), 0),
                socket_connect_timeout=CONNECT_TIMEOUT_S,
                health_check_interval=0,
            )
        except ValueError as e:
            raise ConnectorError(f"{self.who}: invalid redis url {self.url!r}: {e}") from e
        for command in ("XREADGROUP", "XCLAIM"):  # entries as the server sends them: lists
            self.client.set_response_callback(command, _as_sent)
        try:
            await self.client.ping()
        except self.lost as e:
            await self.aclose()
            raise ConnectorError(
                f"{self.who}: cannot connect to redis at {self.url}: {_reason(e)} "
                "(is the server running and reachable?)"
            ) from e
        except self.refused as e:
            await self.aclose()
            raise ConnectorError(f"{self.who}: redis at {self.url} refused: {e}") from e

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """`client.method(*args, **kwargs)`, retried while the server is unreachable."""
        return await self.request(method, lambda c: getattr(c, method)(*args, **kwargs))

    async def request(self, what: str, send: Callable[[Any], Awaitable[Any]]) -> Any:
        """`await send(client)`, sent again after a pause while the server is unreachable."""
        backoff = Backoff(self.clock, self.retry_timeout_s)
        while True:
            try:
                result = await send(self.client)
            except self.lost as e:
                self.failures += 1
                if not backoff.retrying:
                    log.warning(
                        "%s: lost redis at %s (%s); retrying for up to %gs",
                        self.who,
                        self.url,
                        _reason(e),
                        self.retry_timeout_s,
                    )
                if not await backoff.wait():
                    raise ConnectorError(
                        f"{self.who}: redis at {self.url} went away and did not come back "
                        f"within {self.retry_timeout_s:g}s: {_reason(e)}"
                    ) from e
                continue
            except self.refused as e:
                raise ConnectorError(f"{self.who}: redis {what.upper()} failed: {e}") from e
            if backoff.retrying:
                log.warning("%s: redis at %s is back", self.who, self.url)
            return result

    async def aclose(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            await client.aclose()


def _as_sent(response: Any, **options: Any) -> Any:
    return response


def _reason(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text.rstrip(".")
