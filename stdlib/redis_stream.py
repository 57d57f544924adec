"""The `redis_stream` source: reading a Redis stream through a consumer group (redis-py's
asyncio client, hiredis parser). Its sink, which appends to a stream, is `redisstreamsink.py`;
the connection they share is `redisconnection.py`; entries are made records by
`redisentries.py`.

Entries are read with one `XREADGROUP ... COUNT batch_size BLOCK batch_timeout` per batch
(what is there already, or the first to come, handed on at once: reading on while more kept
coming grew batches, and latency, at steady rates of one entry per round trip) and
acknowledged (`XACK`) only once `commit(position)`, which the runtime calls when the
checkpoint holding that position is saved, has allowed it; so an entry read but not covered by
a saved checkpoint stays in the group's pending entries list (PEL) and is read again by the next
run. A commit's entries are acknowledged a thousand per script call and a few calls per read,
so that neither the server nor the reads stall while a checkpoint's worth goes. Two consumer names
keep positions exact:

- `consumer` receives the group's new entries (`>`), whose ids only grow, and after a restart
  or a lost connection re-reads its own pending entries (also in id order) before new ones. Its
  part of a position is `last`, the id of the last entry delivered downstream: every entry of
  its PEL up to `last` is covered by the checkpoint, every one after it is not.
- `consumer:claimed` receives entries taken over from dead consumers (`XPENDING ... IDLE`, then
  `XCLAIM`) once they have been idle `claim_idle`. Their ids can be anything, so the position
  lists them (`claimed`), at most `MAX_CLAIMED_UNACKED` of them: claiming waits for a commit
  when that many are out.

A connection error is retried with backoff for `retry_timeout`; afterwards both PELs are read
again from the position, because a request whose reply was lost may have delivered entries to
this consumer that never reached the pipeline. redis-py's own retries are off for that reason.

Read next: runtime/connector.py (the protocol), stdlib/nats.py (the same for JetStream).
"""

from __future__ import annotations

import socket

import anyio
import msgspec

from rillet.runtime.plugin import (
    Committing,
    ConnectorError,
    KnowsUnread,
    Plugin,
    Seekable,
    SourceBatch,
    SourceContext,
)

from .extras import REDIS
from .redisconnection import Connection
from .redisentries import Entry, decode_entries

plugin = Plugin("std")

MAX_CLAIMED_UNACKED = 10_000
"""Entries claimed from dead consumers and not yet acknowledged; the position lists each."""
CLAIMED_PAGE = 10_000
"""Pending entries of the claiming consumer listed (`XPENDING`) per round trip."""
CLOSING_ACKS_S = 5.0
"""How long closing spends acknowledging what the last commit covered."""


class RedisStreamSourceConfig(msgspec.Struct, forbid_unknown_fields=True):
    url: str
    stream: str
    group: str = "rillet"
    consumer: str | None = None
    field: str = "data"
    until_empty: bool = False
    claim_idle: int | None = 30_000
    """A duration (ms): pending entries of other consumers idle this long are taken over;
    null never takes any over."""
    retry_timeout: int = 60_000
    """A duration (ms): how long a lost server is retried before the run stops."""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


ACK_PAGE_SCRIPT = """
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[5], ARGV[4])
if #pending == 0 then return false end
local ids = {}
for i, entry in ipairs(pending) do ids[i] = entry[1] end
redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
if #pending < tonumber(ARGV[5]) then return false end
return ids[#ids]
"""
"""Acknowledge up to ARGV[5] of consumer ARGV[4]'s pending entries from ARGV[2] to ARGV[3] in
one round trip; the last one's id when there may be more, else nil. A page at a time, because
a script holds the whole server: acknowledging a checkpoint's million entries in one call
stalled every client of the server for a second."""
ACK_PAGE = 1_000
"""Entries acknowledged per script call: about a millisecond of the server's time (and Lua's
`unpack` takes no more than about 8,000)."""


@plugin.source(
    "redis_stream",
    config=RedisStreamSourceConfig,
    shared=True,
    needs=REDIS,
    ends=lambda c: c.until_empty,
)
class RedisStreamSource(Seekable, Committing, KnowsUnread):
    """Reads a Redis stream through a consumer group; entries are acknowledged only once a
    checkpoint covering them is saved."""

    def __init__(self, config: RedisStreamSourceConfig, context: SourceContext) -> None:
        self.config = config
        self.context = context
        self.who = f"source `{context.name}`"
        self.consumer = config.consumer or f"{socket.gethostname()}:{context.name}"
        if context.workers > 1:  # workers share the group, each with a consumer of its own
            self.consumer += f":w{context.worker}"
        self.claimer = f"{self.consumer}:claimed"
        self.redis = Connection(config.url, self.who, context.clock, config.retry_timeout / 1000)
        self.last: str | None = None  # the last entry of `consumer` delivered downstream
        self.acked_through: str | None = None  # `consumer`'s PEL holds nothing up to it
        self.ack_target: str | None = None  # what the newest commit covers: acked page by page
        self.ack_from = "-"  # where the next page starts
        self.pages_per_read = -(-context.batch_size // ACK_PAGE)  # acking keeps up with reading
        self.claimed: list[str] = []  # entries of `claimer` delivered and not acknowledged
        self.resumed: dict | None = None  # a position from `seek`, settled at the first read
        self.recovering = True  # re-read both PELs before new entries
        self.claimer_from = "0"  # where re-reading the claimer's PEL goes on
        self.failures_seen = 0
        self.claim_cursor = "-"
        self.claim_due_s = 0.0

    async def open(self) -> None:
        await self.redis.open()
        self.ack_script = self.redis.client.register_script(ACK_PAGE_SCRIPT)
        try:
            await self.redis.call(
                "xgroup_create", self.config.stream, self.config.group, id="0", mkstream=True
            )
        except ConnectorError as e:
            if "BUSYGROUP" not in str(e):  # the group exists: read on where it is
                raise

    async def unread(self) -> bool:
        """Whether the group has entries not yet delivered, or delivered and not acknowledged
        (a run that ended read them without a checkpoint covering them: they are read again)."""
        groups = await self.redis.call("xinfo_groups", self.config.stream)
        group = next((g for g in groups if _text(g["name"]) == self.config.group), None)
        return group is None or bool(group["pending"]) or group.get("lag") != 0

    def position(self) -> dict:
        """The last entry of `consumer` delivered downstream, and the entries of
        `consumer:claimed` delivered and not yet acknowledged."""
        return {"last": self.last, "claimed": list(self.claimed)}

    def seek(self, position: dict) -> None:
        self.resumed = position
        self.last = self.acked_through = self.ack_target = None
        self.ack_from = "-"
        self.claimed = []

    async def commit(self, position: dict) -> None:
        """Acknowledge what `position` covers: the claimed entries it lists now, and
        `consumer`'s pending entries up to `last` a few pages per read (`_ack_pages`), so that
        a checkpoint covering many entries neither holds the server nor stalls the reads."""
        self.ack_target = position["last"]
        await self._ack_pages(self.pages_per_read)
        claimed = set(position["claimed"])
        if claimed:
            await self.redis.call("xack", self.config.stream, self.config.group, *claimed)
            self.claimed = [i for i in self.claimed if i not in claimed]

    async def _ack_pages(self, pages: int | None) -> None:
        """Acknowledge `consumer`'s pending entries up to `ack_target`, at most `pages` pages
        (None: all). Safe to leave unfinished: a resumed run acknowledges what its checkpoint
        covers before it reads."""
        while self.ack_target is not None and self.ack_target != self.acked_through:
            if pages is not None:
                if pages == 0:
                    return
                pages -= 1
            through = self.ack_target
            last = await self._ack_page(self.ack_from, through)
            if last is None:
                self.acked_through, self.ack_from = through, f"({through}"
            else:
                self.ack_from = f"({_text(last)}"

    async def _ack_page(self, start: str, through: str) -> bytes | None:
        args = [self.config.group, start, through, self.consumer, ACK_PAGE]
        script, keys = self.ack_script, [self.config.stream]
        return await self.redis.request("xack", lambda c: script(keys=keys, args=args, client=c))

    async def _settle(self, position: dict) -> None:
        """Resuming: acknowledge what the checkpoint covered; the rest is read again."""
        self.ack_target = position["last"]
        await self._ack_pages(None)
        self.last = position["last"]
        covered = set(position["claimed"])
        stream, group = self.config.stream, self.config.group
        low = "-"
        while covered:
            pending = await self.redis.call(
                "xpending_range", stream, group, low, "+", CLAIMED_PAGE, self.claimer
            )
            ids = [_text(p["message_id"]) for p in pending]
            done = [i for i in ids if i in covered]
            if done:
                await self.redis.call("xack", stream, group, *done)
            if len(pending) < CLAIMED_PAGE:
                break
            low = f"({ids[-1]}"

    def _batch(self, entries: list[Entry]) -> SourceBatch:
        records, offsets, bad = decode_entries(entries, self.config.field, self.context.schema)
        return SourceBatch(records, offsets, self.config.stream, bad)

    async def _read(self, consumer: str, start: str, block_ms: int | None) -> list:
        reply = await self.redis.call(
            "xreadgroup",
            self.config.group,
            consumer,
            {self.config.stream: start},
            count=self.context.batch_size,
            block=block_ms,
        )
        if not reply:
            return []
        # one stream: `[[name, entries]]` (RESP2) or `{name: entries}` (RESP3)
        return next(iter(reply.values())) if isinstance(reply, dict) else reply[0][1]

    async def _recover(self) -> SourceBatch | None:
        """One batch of entries this consumer holds but has not delivered (after a restart or
        a lost connection); None once there are none left."""
        entries = await self._read(self.consumer, self.last or "0", None)
        if entries:
            self.last = _text(entries[-1][0])
            return self._batch(entries)
        delivered = set(self.claimed)
        while True:
            entries = await self._read(self.claimer, self.claimer_from, None)
            if not entries:
                self.claimer_from = "0"
                return None
            self.claimer_from = _text(entries[-1][0])
            fresh = [e for e in entries if _text(e[0]) not in delivered]
            if fresh:
                self.claimed += [e[0].decode() for e in fresh]
                return self._batch(fresh)

    async def _claim(self) -> SourceBatch | None:
        """Take over entries that other consumers left pending for `claim_idle`."""
        idle_ms = self.config.claim_idle
        clock = self.context.clock
        if idle_ms is None or clock.monotonic_s() < self.claim_due_s:
            return None
        room = min(self.context.batch_size, MAX_CLAIMED_UNACKED - len(self.claimed))
        if room <= 0:
            return None
        stream, group = self.config.stream, self.config.group
        pending = await self.redis.call(
            "xpending_range", stream, group, self.claim_cursor, "+", room, idle=idle_ms
        )
        if len(pending) < room:  # scanned to the end: start over after a pause
            self.claim_cursor = "-"
            self.claim_due_s = clock.monotonic_s() + max(idle_ms / 4000, 0.05)
        else:
            self.claim_cursor = f"({_text(pending[-1]['message_id'])}"
        ours = (self.consumer.encode(), self.claimer.encode())
        ids = [p["message_id"] for p in pending if p["consumer"] not in ours]
        if not ids:
            return None
        entries = await self.redis.call("xclaim", stream, group, self.claimer, idle_ms, ids)
        if not entries:
            return None
        self.claimed += [e[0].decode() for e in entries if e[1]]
        return self._batch(entries)

    async def read_batch(self) -> SourceBatch | None:
        if self.resumed is not None:
            position, self.resumed = self.resumed, None
            await self._settle(position)
        await self._ack_pages(self.pages_per_read)  # what the last commits covered
        if self.redis.failures != self.failures_seen:  # a reply may have been lost
            self.failures_seen = self.redis.failures
            self.recovering = True
        if self.recovering:
            batch = await self._recover()
            if batch is not None:
                return batch
            self.recovering = False
        batch = await self._claim()
        if batch is not None:
            return batch
        # one read: everything there already (up to `batch_size`), or the first entries to
        # come within `batch_timeout`, handed on at once (adaptive batches)
        block = (
            None if self.config.until_empty else max(1, int(self.context.batch_timeout_s * 1000))
        )
        failures = self.redis.failures
        entries = await self._read(self.consumer, ">", block)
        if entries and self.redis.failures == failures:  # else they are pending: recovered
            self.last = _text(entries[-1][0])
            return self._batch(entries)
        if (
            self.config.until_empty
            and not self.recovering
            and self.redis.failures == self.failures_seen
        ):
            return None
        return SourceBatch([], [], self.config.stream)

    async def aclose(self) -> None:
        if self.redis.client is not None and self.redis.failures == self.failures_seen:
            with anyio.move_on_after(CLOSING_ACKS_S):  # what is left, the next run acknowledges
                await self._ack_pages(None)
        await self.redis.aclose()
