"""`generate(count=, rate=)`: a synthetic, deterministic click stream for demos and benchmarks.

Events are `{ts, user, page, status, latency_ms}`: 10,000 users with a Zipf-like skew, 50 pages,
status 200 for about 95%, latency log-normal around 120 ms. Event time advances 1 ms per event
from `start_ms` (with `rate`, from the clock's time when the run starts, by 1000/rate ms), and
10% of events are up to 2 s late. The same `seed` gives the same events; the offset of an event
is its index.
"""

from __future__ import annotations

import math
import random
from functools import cache
from itertools import accumulate

import msgspec

from rillet.runtime.plugin import (
    BadRecord,
    KnowsUnread,
    Plugin,
    Seekable,
    SourceBatch,
    SourceContext,
)

plugin = Plugin("std")

USERS = 10_000
PAGES = [f"/page/{i}" for i in range(45)] + ["/", "/home", "/search", "/checkout", "/cart"]
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
_ERROR_STATUS = (404, 500, 301, 503)
CHUNK_EVENTS = 1024
"""Events are drawn this many at a time, whatever the batch size, so that where batches are cut
(`batch_size`, or with `rate` the clock) never changes the events of a seed."""


class GenerateConfig(msgspec.Struct, forbid_unknown_fields=True):
    count: int | None = None
    rate: float | None = None
    seed: int = 0
    start_ms: int | None = None


@cache
def _weights() -> tuple[list[float], list[float]]:
    """The users' and pages' cumulative weights: worked out when first drawn from, not by every
    run that imports the standard library (two milliseconds)."""
    users = list(accumulate(1 / (rank + 1) ** 1.1 for rank in range(USERS)))
    return users, list(accumulate(1 / (rank + 1) for rank in range(len(PAGES))))


def click_events(
    rng: random.Random, first_index: int, n: int, start_ms: int, step_ms: float
) -> list[dict]:
    """`n` events from index `first_index`; the caller keeps `rng` to continue the stream."""
    user_weights, page_weights = _weights()
    users = rng.choices(range(1, USERS + 1), cum_weights=user_weights, k=n)
    pages = rng.choices(PAGES, cum_weights=page_weights, k=n)
    rand, lognorm, randrange = rng.random, rng.lognormvariate, rng.randrange
    mu = math.log(120.0)
    events = []
    for i, (user, page) in enumerate(zip(users, pages), first_index):
        ts = start_ms + int(i * step_ms)
        if rand() < 0.1:
            ts -= randrange(2000)
        status = 200 if rand() < 0.95 else _ERROR_STATUS[randrange(4)]
        latency = round(lognorm(mu, 0.6), 1)
        events.append(
            {"ts": ts, "user": user, "page": page, "status": status, "latency_ms": latency}
        )
    return events


@plugin.source("generate", config=GenerateConfig, ends=lambda c: c.count is not None)
class GenerateSource(Seekable, KnowsUnread):
    """Synthetic click events (ts, user, page, status, latency_ms), `count` of them (endless
    without), at most `rate` per second (as fast as possible without)."""

    def __init__(self, config: GenerateConfig, context: SourceContext) -> None:
        self.config = config
        self.context = context
        self.rng = random.Random(config.seed)
        self.emitted = 0
        self.drawn: list[dict] = []  # drawn ahead of `emitted`, less than a chunk plus a batch

    async def open(self) -> None:
        clock = self.context.clock
        self.started_s = clock.monotonic_s()
        rate = self.config.rate
        default_start = clock.time_ms() if rate else START_MS
        self.start_ms = self.config.start_ms if self.config.start_ms is not None else default_start
        self.step_ms = 1000 / rate if rate else 1.0

    def position(self) -> dict:
        return {"emitted": self.emitted, "start_ms": self.start_ms}

    def seek(self, position: dict) -> None:
        """Draw the same events again up to `emitted` (they come in fixed chunks)."""
        target, self.start_ms = position["emitted"], position["start_ms"]
        self.rng = random.Random(self.config.seed)
        first = 0
        while first + CHUNK_EVENTS <= target:
            click_events(self.rng, first, CHUNK_EVENTS, self.start_ms, self.step_ms)
            first += CHUNK_EVENTS
        self.drawn = []
        if first < target:
            chunk = click_events(self.rng, first, CHUNK_EVENTS, self.start_ms, self.step_ms)
            self.drawn = chunk[target - first :]
        self.emitted = target
        if self.config.rate:  # as if the events so far came at the rate, ending now
            self.started_s = self.context.clock.monotonic_s() - target / self.config.rate

    async def unread(self) -> bool:
        return self.config.count is None or self.emitted < self.config.count

    async def read_batch(self) -> SourceBatch | None:
        count, rate = self.config.count, self.config.rate
        want = self.context.batch_size
        if count is not None:
            want = min(want, count - self.emitted)
            if want <= 0:
                return None
        if rate:
            clock = self.context.clock
            while True:  # hand on the events due as soon as there are some (adaptive batches)
                now = clock.monotonic_s()
                due = int((now - self.started_s) * rate) - self.emitted
                if due > 0:
                    break
                await clock.sleep(max(self.started_s + (self.emitted + 1) / rate - now, 0.001))
            want = min(want, due)
        first = self.emitted
        while len(self.drawn) < want:
            self.drawn += click_events(
                self.rng, first + len(self.drawn), CHUNK_EVENTS, self.start_ms, self.step_ms
            )
        events, self.drawn = self.drawn[:want], self.drawn[want:]
        self.emitted += want
        offsets = list(range(first, first + want))
        schema = self.context.schema
        if schema is None:
            return SourceBatch(events, offsets)
        batch = SourceBatch([], [])
        for event, offset in zip(events, offsets):
            try:
                batch.records.append(schema.validate(event))
                batch.offsets.append(offset)
            except msgspec.ValidationError as e:
                batch.bad.append(BadRecord(schema.describe(e), offset, event))
        return batch

    async def aclose(self) -> None:
        pass
