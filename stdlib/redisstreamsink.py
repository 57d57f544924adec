"""The `redis_stream` sink: one pipelined `XADD` per batch, each record a JSON document in one
field; at-least-once (a batch retried after a lost connection, or written again after a crash,
appears twice). The connection and its retries are `redisconnection.py`'s."""

from __future__ import annotations

from typing import Any

import msgspec

from rillet.runtime.plugin import (
    Flushing,
    Plugin,
    SinkContext,
)

from .extras import REDIS
from .redisconnection import Connection

plugin = Plugin("std")
_encoder = msgspec.json.Encoder()


class RedisStreamSinkConfig(msgspec.Struct, forbid_unknown_fields=True):
    url: str
    stream: str
    field: str = "data"
    maxlen: int | None = None
    retry_timeout: int = 60_000


@plugin.sink("redis_stream", config=RedisStreamSinkConfig, delivery="at-least-once", needs=REDIS)
class RedisStreamSink(Flushing):
    """Appends each record to a Redis stream as a JSON document in one field (`XADD`, one
    pipeline per batch), trimming the stream to about `maxlen` entries when given."""

    def __init__(self, config: RedisStreamSinkConfig, context: SinkContext) -> None:
        self.config = config
        self.redis = Connection(
            config.url, f"sink `{context.name}`", context.clock, config.retry_timeout / 1000
        )

    async def open(self) -> None:
        await self.redis.open()

    async def write(self, records: list[dict]) -> None:
        if not records:
            return
        stream, field = self.config.stream, self.config.field.encode()
        maxlen = self.config.maxlen
        encode = _encoder.encode

        async def send(client: Any) -> None:
            async with client.pipeline(transaction=False) as pipe:
                for record in records:
                    pipe.xadd(stream, {field: encode(record)}, maxlen=maxlen, approximate=True)
                await pipe.execute()

        await self.redis.request("xadd", send)

    async def precommit(self) -> None:
        """Nothing to flush: every batch was written when `write` returned."""

    async def aclose(self) -> None:
        await self.redis.aclose()
