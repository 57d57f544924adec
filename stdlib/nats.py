"""The `nats` source: reading a NATS JetStream stream through a durable pull consumer
(nats-py). Its sink, which publishes to a subject with JetStream acknowledgements, is
`natssink.py`; the connection they share is `natsconnection.py`; the stream sequences a position
lists and acknowledgements name are kept as runs by `natssequences.py`.

Messages are pulled with the consumer's own API (`$JS.API.CONSUMER.MSG.NEXT`, one pull
request of `batch_size` at a time, answered on an inbox this source subscribes to): nats-py's
`fetch()` waits for each message of a batch in turn, which caps it near 11,000 messages/s here,
against about 40,000 for the same pulls collected by a subscription callback (bench/broker.py).
Messages are acknowledged only in `commit(position)`, once the checkpoint holding the position
is saved. A position lists the stream sequences delivered downstream and not yet acknowledged,
as ranges; a message is covered by a checkpoint exactly when its sequence is listed there.

JetStream redelivers an unacknowledged message `ack_wait` after its delivery. A message
redelivered while this run still holds it (its checkpoint is slow) is skipped; one a checkpoint
covered but a crash kept from being acknowledged is acknowledged when it comes back, not read
again. So that what a crashed run read after its last checkpoint comes back before newer
messages (event time stays in order), a run whose consumer has unacknowledged messages waits
twice `ack_wait` (the server looks for due messages once per `ack_wait`) before pulling: a
resumed run, and also one with no checkpoint to resume from, whose predecessor died before
saving its first; read after newer ones, such messages would be late for their windows.

nats-py reconnects by itself when the server goes away; requests that fail meanwhile are
retried with backoff for `retry_timeout`, and a pull request lost with the connection ends at
its expiry.

Workers (`rillet run --workers N`): worker i reads the stream through a durable of its own
(`DURABLE-wI`) and keeps the messages whose stream sequence modulo N is i, acknowledging the
others at once; so each message belongs to one worker, and the rules above hold per worker.

Read next: runtime/connector.py (the protocol), stdlib/redis_stream.py (the same for Redis).
"""

from __future__ import annotations

from typing import Any

import anyio
import msgspec

from rillet.runtime.plugin import (
    BadRecord,
    Committing,
    ConnectorError,
    KnowsUnread,
    Plugin,
    Seekable,
    SourceBatch,
    SourceContext,
)

from .extras import NATS
from .formats import decode_jsonl
from .natsconnection import REQUEST_TIMEOUT_S, Connection, stream_name
from .natssequences import ack_sequence, covers, merge, ranges

plugin = Plugin("std")

PULL_GRACE_S = 1.0
"""A pull request is taken as ended this long after its expiry even when its end was never
heard of (the connection was lost meanwhile)."""
ACKED_RANGES_KEPT = 10_000
"""Runs of sequences this run acknowledged, remembered so that one the server sends again (its
acknowledgement was lost with a server that stopped) is not read twice."""
INBOX_PENDING_MSGS = 4
"""The inbox subscription's buffer, in batches (nats-py drops what exceeds it)."""
_encoder = msgspec.json.Encoder()
_API = "$JS.API"


class NatsSourceConfig(msgspec.Struct, forbid_unknown_fields=True):
    url: str
    subject: str
    stream: str | None = None
    durable: str = "rillet"
    until_empty: bool = False
    ack_wait: int = 30_000
    """A duration (ms): how long the server waits for an acknowledgement before redelivering."""
    max_ack_pending: int = 100_000
    """Messages delivered and not yet acknowledged, at most (the server stops delivering)."""
    retry_timeout: int = 60_000


@plugin.source(
    "nats", config=NatsSourceConfig, shared=True, needs=NATS, ends=lambda c: c.until_empty
)
class NatsSource(Seekable, Committing, KnowsUnread):
    """Reads a NATS JetStream stream through a durable pull consumer; messages are
    acknowledged only once a checkpoint covering them is saved."""

    def __init__(self, config: NatsSourceConfig, context: SourceContext) -> None:
        self.config = config
        self.context = context
        self.who = f"source `{context.name}`"
        self.stream = config.stream or stream_name(config.subject)
        self.nats = Connection(config.url, self.who, context.clock, config.retry_timeout / 1000)
        # workers (`rillet run --workers`) each read every message through a durable of their
        # own and keep those whose sequence falls to them: a consumer shared by workers would
        # redeliver what one of them held to another, which knows nothing of its checkpoints
        self.worker, self.workers = context.worker, context.workers
        self.durable = config.durable if self.workers == 1 else f"{config.durable}-w{self.worker}"
        self.replies: dict[int, str] = {}  # delivered, not acknowledged: sequence -> ack subject
        self.covered: set[int] = set()  # covered by the resumed checkpoint, not acknowledged
        self.acked: list[list[int]] = []  # runs of sequences acknowledged by this run
        self.acked_firsts: list[int] = []
        self.settled = False  # the first read has looked for an earlier run's messages
        self.hold_until_s: float | None = None
        self.inbox = ""
        self.buffer: list[tuple[str, bytes]] = []
        self.arrived = anyio.Event()
        self.pulls = 0
        self.pull_open = False
        self.pull_left = 0
        self.pull_ends_s = 0.0
        self.pull_empty = False  # the last pull request ended with no message to deliver
        self.tidy_due_s = 0.0

    async def open(self) -> None:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
        from nats.js.errors import APIError, NotFoundError

        await self.nats.open()
        await self.nats.ensure_stream(self.stream, self.config.subject)
        js = self.nats.js
        try:
            await self.nats.request(
                "consumer info", lambda: js.consumer_info(self.stream, self.durable)
            )
        except NotFoundError:
            consumer = ConsumerConfig(
                durable_name=self.durable,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                filter_subject=self.config.subject,
                ack_wait=self.config.ack_wait / 1000,
                max_ack_pending=self.config.max_ack_pending,
            )
            try:
                await self.nats.request(
                    "create consumer", lambda: js.add_consumer(self.stream, consumer)
                )
            except APIError as e:
                raise ConnectorError(
                    f"{self.who}: cannot create consumer `{self.durable}` on stream "
                    f"`{self.stream}` at {self.config.url}: {e.description}"
                ) from e
        self.inbox = self.nats.nc.new_inbox()
        batches = INBOX_PENDING_MSGS * self.context.batch_size
        await self.nats.nc.subscribe(
            f"{self.inbox}.*", cb=self._arrive, pending_msgs_limit=batches, pending_bytes_limit=-1
        )

    async def _arrive(self, msg: Any) -> None:
        """Called by nats-py for each message on the inbox: a delivery, or the status that ends
        a pull request (404 no messages, 408 expired, 409 limits)."""
        if msg.reply:
            self.buffer.append((msg.reply, msg.data))
            self.pull_left -= 1
            if self.pull_left <= 0:
                self.pull_open = False
        elif msg.subject == f"{self.inbox}.{self.pulls}":
            self.pull_open = False
            self.pull_empty = not self.buffer
        else:
            return  # the end of a pull request already given up on
        following = not self.config.until_empty  # hands on each arrival (adaptive batches)
        if following or not self.pull_open or len(self.buffer) >= self.context.batch_size:
            self.arrived.set()

    def position(self) -> list[list[int]]:
        """The stream sequences delivered downstream and not acknowledged, as ranges."""
        return ranges([*self.replies, *self.covered])

    def seek(self, position: list[list[int]]) -> None:
        self.covered = {s for first, last in position for s in range(first, last + 1)}

    async def commit(self, position: list[list[int]]) -> None:
        """Acknowledge the messages `position` covers that this run holds; covered messages
        of an earlier run are acknowledged when the server redelivers them."""
        replies = self.replies
        acks = [
            (sequence, replies[sequence])
            for first, last in position
            for sequence in range(first, last + 1)
            if sequence in replies
        ]
        if acks:
            await self._acknowledge([reply for _, reply in acks])
            for sequence, _ in acks:
                del replies[sequence]
            self.acked = merge(self.acked, ranges([s for s, _ in acks]))[-ACKED_RANGES_KEPT:]
            self.acked_firsts = [first for first, _ in self.acked]

    async def _acknowledge(self, replies: list[str]) -> None:
        nc = self.nats.nc

        async def send() -> None:
            for reply in replies:
                await nc.publish(reply, b"+ACK")
            await nc.flush(REQUEST_TIMEOUT_S)

        await self.nats.request("acknowledge", send)

    async def _info(self) -> Any:
        js = self.nats.js
        return await self.nats.request(
            "consumer info", lambda: js.consumer_info(self.stream, self.durable)
        )

    async def _settle(self) -> None:
        """Starting, resumed or not: when messages are out unacknowledged (an earlier run read
        them and died), wait until the server redelivers them, so that they are read before
        newer ones. A run that died before its first checkpoint leaves no position to resume
        from, but its messages are out all the same."""
        info = await self._info()
        if info.num_ack_pending:
            self.hold_until_s = self.context.clock.monotonic_s() + 2 * self.config.ack_wait / 1000
        self._forget_acknowledged(info)

    def _forget_acknowledged(self, info: Any) -> None:
        """Covered messages the server no longer has out were acknowledged before the crash."""
        if info.num_ack_pending <= len(self.replies):
            self.covered.clear()
        else:
            floor = info.ack_floor.stream_seq or 0
            self.covered = {s for s in self.covered if s > floor}

    async def _pull(self, count: int, wait: bool) -> None:
        self.pulls += 1
        self.pull_open, self.pull_left, self.pull_empty = True, count, False
        request: dict[str, Any] = {"batch": count}
        timeout_s = self.context.batch_timeout_s
        if wait:
            request["expires"] = int(timeout_s * 1e9)
        else:
            request["no_wait"] = True
        self.pull_ends_s = self.context.clock.monotonic_s() + timeout_s + PULL_GRACE_S
        subject = f"{_API}.CONSUMER.MSG.NEXT.{self.stream}.{self.durable}"
        nc, data, reply = self.nats.nc, _encoder.encode(request), f"{self.inbox}.{self.pulls}"
        await self.nats.request("pull", lambda: nc.publish(subject, data, reply=reply))

    async def read_batch(self) -> SourceBatch | None:
        clock = self.context.clock
        if not self.settled:
            self.settled = True
            await self._settle()
        if self.hold_until_s is not None:
            if clock.monotonic_s() < self.hold_until_s:
                await clock.sleep(
                    min(self.hold_until_s - clock.monotonic_s(), self.context.batch_timeout_s)
                )
                return SourceBatch([], [], self.stream)
            self.hold_until_s = None
        if self.covered and clock.monotonic_s() >= self.tidy_due_s:
            self.tidy_due_s = clock.monotonic_s() + self.config.ack_wait / 1000
            self._forget_acknowledged(await self._info())
        await self._fill()
        taken, self.buffer = (
            self.buffer[: self.context.batch_size],
            self.buffer[self.context.batch_size :],
        )
        batch = await self._decode(taken)
        if batch.records or batch.bad or not self.config.until_empty:
            return batch
        if await self._exhausted():
            return None
        await clock.sleep(self.context.batch_timeout_s)  # an earlier run's messages are due
        return batch

    async def _fill(self) -> None:
        """Pull until a batch is buffered (following: until some message is), the pull request
        ends (bounded mode) or `batch_timeout` has passed."""
        clock, size = self.context.clock, self.context.batch_size
        deadline = clock.monotonic_s() + self.context.batch_timeout_s
        pulled = False
        while True:
            self.arrived = anyio.Event()  # before looking, so that no wake-up is missed
            if len(self.buffer) >= size:
                return
            if self.buffer and not self.config.until_empty:
                return  # hand on what came (adaptive batches); the open pull delivers the rest
            now = clock.monotonic_s()
            if self.pull_open and now >= self.pull_ends_s:
                self.pull_open = False  # its end was lost with a connection
            if not self.pull_open:
                if pulled and self.config.until_empty:
                    return
                if pulled:  # ended early (a limit such as max_ack_pending): wait, then go on
                    await clock.sleep(max(deadline - now, 0))
                    return
                await self._pull(size - len(self.buffer), wait=not self.config.until_empty)
                pulled = True
                continue
            if now >= deadline:
                return
            with anyio.move_on_after(deadline - now):
                await self.arrived.wait()

    async def unread(self) -> bool:
        """Whether the durable has messages not yet delivered, or not yet acknowledged."""
        info = await self._info()
        return bool(info.num_pending or info.num_ack_pending)

    async def _exhausted(self) -> bool:
        """Bounded mode: nothing left to deliver, and nothing out unacknowledged that this run
        does not hold (an earlier run's messages wait for their redelivery)."""
        if self.buffer or self.pull_open or not self.pull_empty:
            return False
        info = await self._info()
        self._forget_acknowledged(info)
        return (
            info.num_pending == 0 and info.num_ack_pending <= len(self.replies) and not self.covered
        )

    async def _decode(self, taken: list[tuple[str, bytes]]) -> SourceBatch:
        lines, sequences, bad = [], [], []
        replies, covered = self.replies, self.covered
        acks = []
        for reply, data in taken:
            sequence = ack_sequence(reply)
            if sequence % self.workers != self.worker:  # another worker's share
                acks.append(reply)
                continue
            if sequence in replies:  # redelivered while its checkpoint is pending
                replies[sequence] = reply
                continue
            if sequence in covered:  # covered by the resumed checkpoint
                covered.discard(sequence)
                acks.append(reply)
                continue
            if covers(self.acked, self.acked_firsts, sequence):  # its acknowledgement was lost
                acks.append(reply)
                continue
            replies[sequence] = reply
            if data.strip():
                lines.append(data)
                sequences.append(sequence)
            else:
                bad.append(BadRecord("empty message", sequence, ""))
        if acks:
            await self._acknowledge(acks)
        records, offsets, more = decode_jsonl(lines, sequences, self.context.schema)
        return SourceBatch(records, offsets, self.stream, bad + more)

    async def aclose(self) -> None:
        await self.nats.aclose()
