"""The `nats` sink: each batch published to a subject of a JetStream stream (created when
missing), with one reply inbox and a `Nats-Msg-Id` per message, so that messages sent again
after a lost acknowledgement are dropped by the server as duplicates; at-least-once across a
crash. The connection and its retries are `natsconnection.py`'s."""

from __future__ import annotations

import uuid
from typing import Any

import anyio
import msgspec

from rillet.runtime.plugin import (
    ConnectorError,
    Flushing,
    Plugin,
    SinkContext,
)

from .extras import NATS
from .natsconnection import REQUEST_TIMEOUT_S, Connection, stream_name
from .retry import Backoff

plugin = Plugin("std")
_encoder = msgspec.json.Encoder()


class NatsSinkConfig(msgspec.Struct, forbid_unknown_fields=True):
    url: str
    subject: str
    stream: str | None = None
    retry_timeout: int = 60_000


@plugin.sink("nats", config=NatsSinkConfig, delivery="at-least-once", needs=NATS)
class NatsSink(Flushing):
    """Publishes each record as a JSON message to a subject of a JetStream stream (created
    when missing), waiting for the server to store every message of a batch."""

    def __init__(self, config: NatsSinkConfig, context: SinkContext) -> None:
        self.config = config
        self.who = f"sink `{context.name}`"
        self.stream = config.stream or stream_name(config.subject)
        self.nats = Connection(config.url, self.who, context.clock, config.retry_timeout / 1000)
        self.run_id = uuid.uuid4().hex[:16]
        self.sent = 0
        self.waiting: dict[str, int] = {}  # reply token -> index in the batch
        self.failed: list[str] = []
        self.done = anyio.Event()

    async def open(self) -> None:
        await self.nats.open()
        await self.nats.ensure_stream(self.stream, self.config.subject)
        self.inbox = self.nats.nc.new_inbox()
        await self.nats.nc.subscribe(f"{self.inbox}.*", cb=self._acked)

    async def _acked(self, msg: Any) -> None:
        token = msg.subject.rpartition(".")[2]
        if self.waiting.pop(token, None) is None:
            return  # the acknowledgement of a message already sent again
        if b'"error"' in msg.data:
            self.failed.append(msg.data.decode("utf-8", "replace"))
        if not self.waiting:
            self.done.set()

    async def write(self, records: list[dict]) -> None:
        if not records:
            return
        nc, subject = self.nats.nc, self.config.subject
        messages = []
        for record in records:
            self.sent += 1
            messages.append((f"{self.sent}", _encoder.encode(record)))
        backoff = Backoff(self.nats.clock, self.nats.retry_timeout_s)
        backoff.start()  # the time allowed counts from the first send
        while True:
            self.waiting = {token: i for i, (token, _) in enumerate(messages)}
            self.failed, self.done = [], anyio.Event()
            try:
                for token, data in messages:
                    await nc.publish(
                        subject,
                        data,
                        reply=f"{self.inbox}.{token}",
                        headers={"Nats-Msg-Id": f"{self.run_id}-{token}"},
                    )
                with anyio.move_on_after(REQUEST_TIMEOUT_S):
                    await self.done.wait()
            except self.nats.lost:
                pass
            if self.failed:
                raise ConnectorError(
                    f"{self.who}: nats refused a message for `{subject}`: {self.failed[0]}"
                )
            if not self.waiting:
                return
            # unacknowledged: sent again; the server drops the ones it had stored already
            messages = [m for m in messages if m[0] in self.waiting]
            if not await backoff.wait():
                raise ConnectorError(
                    f"{self.who}: nats at {self.config.url} did not acknowledge "
                    f"{len(messages)} messages within {self.nats.retry_timeout_s:g}s"
                )

    async def precommit(self) -> None:
        """Nothing to flush: every message of a batch was stored when `write` returned."""

    async def aclose(self) -> None:
        await self.nats.aclose()
