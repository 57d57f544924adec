"""The stream-stream `join`: both sides' records buffered per key, each record paired with the
other side's records already buffered under its key whose event times are at most `within`
apart (any, without `within`). A left join also writes each left record that found no partner,
the right side's fields null, once no partner can come any more: when the watermark has
passed it by `within`, or at the end of the input.

Each side keeps, per key, a list of (event time, record, arrival number) in arrival order,
and beside it the keys of its records in time order: two plain lists (times, keys) for the
records that came in time order (the common case), cut at the watermark's horizon by one
`bisect`, and a heap for the others. Expiry visits only the keys with a record older than the
horizon, once each, and counts how many of each key's records expire: those are near the front
of its list (arrival order), so expiry costs what expires, not what is held (a hot key's long
list included). A left join's left records still without partner are kept by arrival number.
Without `event_time` upstream, a record's time is the clock's when it arrives.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from .clock import Clock
from .incremental import Changes, ListChanges
from .item import Batch, Picked
from .keyed import TimeReader
from .operator import Output, StatelessOperator
from .opstate import JoinState, hashable, read
from .plan import Join

Entry = tuple[int, dict, int]  # (event time, record, arrival number)
_time = itemgetter(0)
ANY_TIME = 2**64  # the distance allowed without `within`: more than any two times apart
JOURNAL_SLACK = 10_000
"""What a side's journal of changes may hold beyond twice its records before it is dropped:
between two checkpoints a side with a short `within` forgets far more than it holds, and
the journal would grow with the input where the state does not."""


class Side:
    """One side's buffered records: per key, in arrival order; for a side that `expires`, also
    their keys in time order. `waiting` holds, by arrival number, the records that have found
    no partner yet (the left side of a left join only)."""

    def __init__(self, expires: bool) -> None:
        self.by_key: dict[Any, list[Entry]] = {}
        self.expires = expires
        self.times: list[int] = []  # ascending: the records that came in time order
        self.keys: list[Any] = []  # the key of each of those, beside
        self.out_of_order: list[tuple[int, int, Any]] = []  # (time, arrival, key): a heap
        self.waiting: dict[int, dict] = {}
        self.arrivals = 0
        # what changed since the last `changes`, for incremental checkpoints; None until a
        # checkpoint first asks: (arrival number, key) of records added or matched, and the
        # arrival numbers of records forgotten
        self.journal: list[tuple[int, Any]] | None = None
        self.forgotten: list[int] = []

    def add(self, key: Any, ts: int, record: dict, waits: bool = False) -> None:
        arrival = self.arrivals
        self.arrivals += 1
        entries = self.by_key.get(key)
        if entries is None:
            self.by_key[key] = [(ts, record, arrival)]
        else:
            entries.append((ts, record, arrival))
        if self.expires:
            if self.times and ts < self.times[-1]:
                heapq.heappush(self.out_of_order, (ts, arrival, key))
            else:
                self.times.append(ts)
                self.keys.append(key)
        if waits:
            self.waiting[arrival] = record
        if self.journal is not None:
            self.journal.append((arrival, key))

    def expire(self, horizon: int) -> list[dict]:
        """Forget the records older than `horizon`; those still waiting, oldest first."""
        times, keys, out_of_order = self.times, self.keys, self.out_of_order
        cut = bisect_left(times, horizon)
        expiring = Counter(keys[:cut])  # per key, how many of its records expire
        del times[:cut], keys[:cut]
        while out_of_order and out_of_order[0][0] < horizon:
            expiring[heapq.heappop(out_of_order)[2]] += 1
        by_key, waiting, journal = self.by_key, self.waiting, self.journal
        unmatched: list[Entry] = []
        for key, count in expiring.items():
            entries = by_key[key]
            if count == len(entries):
                gone = entries
                del by_key[key]
            elif count == 1 and entries[0][0] < horizon:  # the common case: the oldest
                gone = entries[:1]
                del entries[0]
            else:
                gone = _drop_oldest(entries, count, horizon)
            if journal is not None:
                self.forgotten.extend(entry[2] for entry in gone)
            if waiting:
                unmatched.extend(entry for entry in gone if entry[2] in waiting)
        if (
            journal is not None
            and len(journal) + len(self.forgotten)
            > 2 * (len(times) + len(out_of_order)) + JOURNAL_SLACK
        ):  # more to say than the side holds: the next checkpoint takes it whole
            self.journal, self.forgotten = None, []
        unmatched.sort(key=lambda entry: (entry[0], entry[2]))
        return [waiting.pop(arrival) for _, _, arrival in unmatched]

    def records(self) -> list[tuple[Any, int, dict, bool]]:
        """(key, event time, record, matched yet) of every record held, in arrival order."""
        held = [(key, *entry) for key, entries in self.by_key.items() for entry in entries]
        held.sort(key=lambda h: h[3])
        waiting = self.waiting
        return [(key, ts, record, a not in waiting) for key, ts, record, a in held]

    def changes(self, whole: bool, matched: bool) -> ListChanges:
        """Its records (by arrival number; with whether each is `matched` yet, when asked) added
        or changed since the last call, and those forgotten; all it holds when `whole`."""
        journal, forgotten = self.journal, self.forgotten
        self.journal, self.forgotten = [], []
        by_key, waiting, upserts = self.by_key, self.waiting, {}
        if whole or journal is None:
            held = sorted(
                (a, key, ts, record) for key, entries in by_key.items() for ts, record, a in entries
            )
            if not matched:
                return ListChanges([(a, (key, ts, r)) for a, key, ts, r in held], [])
            elements = [(a, (key, ts, r, a not in waiting)) for a, key, ts, r in held]
            return ListChanges(elements, [])
        touched: dict[Any, set[int]] = {}
        for arrival, key in journal:
            touched.setdefault(key, set()).add(arrival)
        for key, arrivals in touched.items():  # each touched key's list walked once
            for ts, record, arrival in by_key.get(key, ()):
                if arrival in arrivals:
                    upserts[arrival] = _element((key, ts, record, arrival not in waiting), matched)
        return ListChanges(sorted(upserts.items()), forgotten)

    @classmethod
    def of(cls, records: list[tuple[Any, int, dict, bool]], expires: bool) -> Side:
        """A side holding a snapshot's records (their keys as msgpack gave them back)."""
        side = cls(expires)
        for key, ts, record, matched in records:
            side.add(hashable(key), ts, record, waits=not matched)
        return side


def _drop_oldest(entries: list[Entry], count: int, horizon: int) -> list[Entry]:
    """Take the `count` entries older than `horizon` out of `entries`, looking from the front
    only until the last of them: a key's records come in arrival order, nearly time order, so
    this costs about what expires, not what the key holds."""
    gone: list[Entry] = []
    kept: list[Entry] = []
    at = 0
    while len(gone) < count:
        entry = entries[at]
        at += 1
        if entry[0] < horizon:
            gone.append(entry)
        else:
            kept.append(entry)
    entries[:at] = kept
    return gone


def _element(held: tuple[Any, int, dict, bool], matched: bool) -> tuple:
    """A record as a snapshot lists it: the right side's without whether it matched."""
    return held if matched else held[:3]


def key_function(fields: tuple[str, ...]) -> Callable[[dict], Any]:
    """A record's key: its one key field's value, or a tuple of its key fields' values; None
    when any is null or missing, since such a record matches nothing (as in SQL)."""
    if len(fields) == 1:
        (only,) = fields
        return lambda r: r.get(only)

    def key(record: dict) -> tuple | None:
        values = tuple(record.get(f) for f in fields)
        return None if None in values else values

    return key


class JoinOperator(StatelessOperator):
    """Join of port 0 (left) and port 1 (right) on equal keys (the left's `on` fields, the
    right's `right_on`), event times at most `within` ms apart (None: any; both sides are kept
    to the end). The right side's fields that clash with the left's are renamed
    `{right_name}_{field}`; its copy of a key both sides name alike is left out. A left join
    writes a left record without partner with `nulls`, the right's fields when known."""

    def __init__(self, op: Join, clock: Clock) -> None:
        self.keys = (key_function(op.left_keys), key_function(op.right_keys))
        self.key_fields = tuple(
            k[0] if len(k) == 1 else None for k in (op.left_keys, op.right_keys)
        )
        """Each side's one key field, read inline; None for several (`keys` reads them)."""
        self.shared = frozenset(a for a, b in zip(op.left_keys, op.right_keys) if a == b)
        self.within = op.within_ms
        self.prefix = f"{op.right}_"
        self.readers = (TimeReader(op.left_time, clock), TimeReader(op.right_time, clock))
        expires = op.within_ms is not None
        self.sides = (Side(expires), Side(expires))
        timed = op.left_time and op.right_time
        self.tick_s = None if timed or op.within_ms is None else max(op.within_ms / 1000, 0.05)
        self.left_join = op.kind == "left"
        self.nulls = dict.fromkeys(op.right_fields or ())

    def _merge(self, left: dict, right: dict) -> dict:
        merged = dict(left)
        shared, prefix = self.shared, self.prefix
        for name, value in right.items():
            if name not in shared:
                merged[prefix + name if name in left else name] = value
        return merged

    def process(self, batch: Batch, port: int, out: Output) -> None:
        """Pair each record with the other side's under its key, then keep it: one loop with
        the side's structures at hand, since it runs for every record. A record's pairs come
        out in the order of the other side's event time, then arrival, so a `dedupe` after the
        join keeps the earliest partner, as on Flink (docs/flink.md)."""
        side, their_keys = self.sides[port], self.sides[1 - port].by_key
        mine, times, keys = side.by_key, side.times, side.keys
        key_field, key_of = self.key_fields[port], self.keys[port]
        within = ANY_TIME if self.within is None else self.within
        waits = port == 0 and self.left_join
        frees = port == 1 and self.left_join
        made: list[dict] = []
        made_from: list[int] = []  # the index in the batch of each, for its offset
        waiting, merge, emit, source = (
            self.sides[0].waiting,
            self._merge,
            made.append,
            made_from.append,
        )
        expires, arrival = side.expires, side.arrivals
        journal, matched = side.journal, self.sides[0].journal
        for record, index, ts in self.readers[port].indexed(batch, out):
            key = record.get(key_field) if key_field is not None else key_of(record)
            if key is None:
                if waits:  # it can meet no partner: out at once
                    emit(merge(record, self.nulls))
                    source(index)
                continue
            try:
                matches = their_keys.get(key)
            except TypeError as e:  # a list or record key
                out.error(record, batch.offsets[index], str(e))
                continue
            paired = False
            if matches is not None:  # in the other side's time order, then arrival's
                for other in matches if len(matches) == 1 else sorted(matches, key=_time):
                    if -within <= ts - other[0] <= within:
                        paired = True
                        emit(merge(record, other[1]) if port == 0 else merge(other[1], record))
                        source(index)
                        freed = frees and waiting.pop(other[2], None) is not None
                        if freed and matched is not None:  # for `changes`
                            matched.append((other[2], key))
            entries = mine.get(key)
            if entries is None:
                mine[key] = [(ts, record, arrival)]
            else:
                entries.append((ts, record, arrival))
            if expires:
                if times and ts < times[-1]:
                    heapq.heappush(side.out_of_order, (ts, arrival, key))
                else:
                    times.append(ts)
                    keys.append(key)
            if waits and not paired:
                waiting[arrival] = record
            if journal is not None:
                journal.append((arrival, key))
            arrival += 1
        side.arrivals = arrival
        out.pass_on(made, Picked(batch.offsets, made_from))

    def on_watermark(self, ts_ms: int, out: Output) -> None:
        if self.within is None:
            return
        left, right = self.sides
        for record in left.expire(ts_ms - self.within):
            out.emit(self._merge(record, self.nulls))
        right.expire(ts_ms - self.within)

    def on_tick(self, now_ms: int, out: Output) -> None:
        self.on_watermark(now_ms, out)

    def on_end(self, out: Output) -> None:
        """The left records still waiting can find no partner now, in arrival order."""
        left = self.sides[0]
        for record in left.waiting.values():
            out.emit(self._merge(record, self.nulls))
        if left.journal is not None:  # each is taken as matched now
            left.journal.extend((a, self.keys[0](r)) for a, r in left.waiting.items())
        left.waiting.clear()

    def snapshot(self) -> JoinState:
        left, right = self.sides
        return JoinState(left.records(), [(k, ts, r) for k, ts, r, _ in right.records()])

    def changes(self, whole: bool) -> Changes:
        """For incremental checkpoints: the snapshot's lists, changed since the last call."""
        left, right = self.sides
        whole = whole or left.journal is None or right.journal is None
        lists = {"left": left.changes(whole, True), "right": right.changes(whole, False)}
        return Changes(whole, {"version": JoinState.__struct_config__.tag}, lists)

    def restore(self, raw: Any) -> None:
        state = read(raw, JoinState)
        expires = self.within is not None
        right = [(key, ts, record, True) for key, ts, record in state.right]
        self.sides = (Side.of(state.left, expires), Side.of(right, expires))
