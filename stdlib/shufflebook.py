"""The shuffle's protocol, apart from the broker that carries it: what a producer counts
(`Epochs`), what a reader decides about an entry (`fate`) and what it keeps of each producer
(`Producers`). Redis (`shuffle.py`) and Kafka (`kafkashuffle.py`) carry the same entries."""

from __future__ import annotations

from typing import Literal

import msgspec

from rillet.runtime.plugin import SourceBatch

Fate = Literal["deliver", "skip", "wait"]
RECORDS, WATERMARK, IDLE, END = b"d", b"w", b"i", b"end"
"""The kinds of entry: a batch of records, a watermark, the producer idle, its end."""


class ShuffleConfig(msgspec.Struct, forbid_unknown_fields=True):
    """Written by `runtime/partition.py` into a worker's plan, not by a pipeline's author."""

    broker: str
    """The URL of `--broker` (`redis://...`, `kafka://...`)."""
    prefix: str
    """The group's name: `rillet:{group}`."""
    keys: list[str] = []
    """The fields whose hash picks a record's partition (the sink's)."""


def fate(known: int | None, current: int, generation: int) -> Fate:
    """Whether an entry written by `generation` is delivered: `known` is the generation that
    committed its epoch (None: none yet), `current` the producer's newest generation.

    A producer records any commit of its old generation before it starts a new one, so once a
    newer generation is known, a commit still missing will never come."""
    if known is None:
        return "skip" if current > generation else "wait"
    return "deliver" if known == generation else "skip"


class Epochs:
    """A producer's count: the epoch its entries carry (the number of the checkpoint that will
    cover them), its generation (raised at each start) and the last epoch it recorded."""

    def __init__(self) -> None:
        self.epoch = 1
        self.generation = 0
        self.recorded = 0
        self.resumed: dict | None = None

    def restore(self, committed: dict) -> None:
        self.resumed = committed
        self.epoch = committed["epoch"] + 1

    def precommit(self) -> dict:
        committed = {"epoch": self.epoch, "generation": self.generation}
        self.epoch += 1
        return committed

    def to_record(self, committed: dict) -> range | None:
        """The epochs a commit of `committed` records as its generation's: every one since the
        last recorded (all were written by that generation); None when already recorded."""
        epoch = committed["epoch"]
        if epoch <= self.recorded:
            return None
        return range(self.recorded + 1, epoch + 1)


class Producers:
    """What a reader knows of the producers of its partition: each one's watermark, which have
    ended and which are idle; and the one watermark it passes on."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.marks: dict[int, int] = {}
        self.ended: set[int] = set()
        self.idle: set[int] = set()  # idle since their last watermark or records
        self.sent_idle = False
        self.emitted: int | None = None  # the last watermark passed on

    def all_ended(self) -> bool:
        return len(self.ended) == self.count

    def sending(self, producer: int) -> None:
        if producer in self.idle:
            self.idle.discard(producer)
            self.sent_idle = False

    def mark(self, producer: int, ts_ms: int) -> None:
        self.marks[producer] = max(self.marks.get(producer, ts_ms), ts_ms)
        self.sending(producer)

    def heard(self, producer: int, kind: bytes, value: bytes) -> None:
        """A delivered entry that holds no records: a watermark, idle, or the end."""
        if kind == WATERMARK:
            self.mark(producer, int(value))
        elif kind == IDLE:
            self.idle.add(producer)
        elif kind == END:
            self.ended.add(producer)

    def batch(self, records: list[dict], first: int, sender: int | None) -> SourceBatch:
        """What a read hands on: its records (one producer's, `sender`), numbered from
        `first`, with the watermark and idleness the producers' entries now say."""
        return SourceBatch(
            records,
            list(range(first, first + len(records))),
            watermark=self.watermark(),
            part=None if sender is None else f"worker {sender}",
            idle=self.all_idle(),
        )

    def watermark(self) -> int | None:
        """The least watermark of the producers still sending and not idle, when it moved (all
        of them must have sent one). Idle producers hold none back: when every producer still
        sending is idle, the largest watermark any of them sent stands."""
        sending = [p for p in range(self.count) if p not in self.ended]
        counting = [p for p in sending if p not in self.idle]
        if counting:
            if any(p not in self.marks for p in counting):
                return None
            low = min(self.marks[p] for p in counting)
        else:
            known = [self.marks[p] for p in sending if p in self.marks]
            if not known:
                return None
            low = max(known)
        if self.emitted is not None and low <= self.emitted:
            return None
        self.emitted, self.sent_idle = low, False
        return low

    def all_idle(self) -> bool:
        """Every producer still sending is idle: said once, until one sends again."""
        sending = set(range(self.count)) - self.ended
        if not sending or not sending <= self.idle or self.sent_idle:
            return False
        self.sent_idle = True
        return True

    def position(self) -> dict:
        return {
            "marks": {str(p): w for p, w in self.marks.items()},
            "ended": sorted(self.ended),
            "idle": sorted(self.idle),
        }

    def seek(self, position: dict) -> None:
        self.marks = {int(p): w for p, w in position["marks"].items()}
        self.ended = set(position["ended"])
        self.idle = set(position.get("idle", []))  # checkpoints from before idle crossed


__all__ = [
    "END",
    "IDLE",
    "RECORDS",
    "WATERMARK",
    "Epochs",
    "Fate",
    "Producers",
    "ShuffleConfig",
    "fate",
]
