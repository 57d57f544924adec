"""What a connector can do beyond reading or writing, declared by naming it as a base class.

The run asks a connector `isinstance(source, Seekable)`, never whether it happens to have a
method called `seek`: a capability is a promise about delivery (a seekable source is resumed,
a committing one acknowledges only what a saved checkpoint covers), so it is stated, not
guessed. `check` runs once when a connector is built and names what does not fit: a class that
declares a capability without its methods, or has a capability's method without declaring it
(which would otherwise be silently ignored, losing the guarantee its author meant).

>>> class Numbers(Seekable):
...     def position(self): return 0
...     def seek(self, position): pass
>>> [c.__name__ for c in check(Numbers(), "numbers")]
['Seekable', 'Positioned']
"""

from __future__ import annotations

from typing import Any

from .connector import ConnectorError


class Capability:
    """Base of the capabilities below; `methods` are what a connector declaring one defines."""

    methods: tuple[str, ...] = ()


class Positioned(Capability):
    """A source that can say where it is: the position goes into each checkpoint (and to
    `commit`), even when a new run cannot go back to it (standard input)."""

    methods = ("position",)

    def position(self) -> Any:
        """Where the next record would be read from (msgspec-encodable)."""
        raise NotImplementedError


class Seekable(Positioned):
    """A source that can come back to where an earlier run stopped."""

    methods = ("seek",)

    def seek(self, position: Any) -> None:
        """Go back to a `position()` taken by an earlier run."""
        raise NotImplementedError


class Committing(Capability):
    """A source that acknowledges upstream, or a sink that makes output final, only once a saved
    checkpoint covers it."""

    methods = ("commit",)

    async def commit(self, covered: Any) -> None:
        """A saved checkpoint holds `covered` (a source's `position()`, a sink's `precommit()`
        result): make everything up to it final."""
        raise NotImplementedError


class Flushing(Capability):
    """A sink that makes what it was given durable at each checkpoint barrier."""

    methods = ("precommit",)

    async def precommit(self) -> Any:
        """Make everything written so far durable; return what `restore` needs to come back to
        exactly this point (msgspec-encodable), if the sink is also `Transactional`."""
        raise NotImplementedError


class Transactional(Flushing):
    """A sink that can be cut back to a checkpoint, so a resumed run writes nothing twice."""

    methods = ("restore",)

    def restore(self, committed: Any) -> None:
        """Resume at a `precommit()` result: drop anything written after it."""
        raise NotImplementedError


class HearsEventTime(Capability):
    """A sink that passes event time on (the shuffle between workers)."""

    methods = ("watermark", "idle", "end_of_input")

    async def watermark(self, ts_ms: int) -> None:
        """Its input's merged watermark moved to `ts_ms`."""
        raise NotImplementedError

    async def idle(self) -> None:
        """Its inputs went idle (`idle` of `event_time`): until the next `watermark`, they hold
        no watermark back downstream."""
        raise NotImplementedError

    async def end_of_input(self) -> None:
        """Every input ended; the last `precommit` follows."""
        raise NotImplementedError


class ReportsProgress(Capability):
    """A bounded source that knows how far through its input it is (the live view's bar)."""

    methods = ("progress",)

    def progress(self) -> tuple[int, int] | None:
        """(done, total) in whatever unit the source counts, or None while it cannot tell."""
        raise NotImplementedError


class KnowsUnread(Capability):
    """A source that can tell, at its restored position, whether anything is left to read; one
    without it may always have input (stdin)."""

    methods = ("unread",)

    async def unread(self) -> bool:
        raise NotImplementedError


class Reopenable(Capability):
    """A source that remembers its producers' ends (the shuffle) and forgets them when a
    finished run goes on over grown input."""

    methods = ("reopen",)

    def reopen(self) -> None:
        raise NotImplementedError


class Parted(Capability):
    """A source that reads several independent parts (a Kafka topic's partitions), each in its
    own order and each batch from one part (`SourceBatch.part`): `event_time` keeps a watermark
    per part, and names `parts()` so that it waits for every part, not just those seen so far."""

    methods = ("parts",)

    def parts(self) -> tuple[str, ...]:
        """Every part the source reads, as its batches name them (asked once it is open)."""
        raise NotImplementedError


CAPABILITIES: tuple[type[Capability], ...] = (
    Seekable,
    Positioned,
    Committing,
    Transactional,
    Flushing,
    HearsEventTime,
    ReportsProgress,
    KnowsUnread,
    Reopenable,
    Parted,
)
"""The narrower before the broader (`Seekable` before `Positioned`), so a class that defines
`seek` and `position` undeclared is told to declare `Seekable`."""


def declared(connector: object) -> list[type[Capability]]:
    """The capabilities `connector`'s class names among its bases."""
    return [c for c in CAPABILITIES if isinstance(connector, c)]


def check(connector: object, name: str) -> list[type[Capability]]:
    """The capabilities `connector` declares, each checked to be implemented; raises
    `ConnectorError` naming the connector and the method when one is not, or when a method of a
    capability is there undeclared."""
    declared = []
    kind = type(connector)
    for capability in CAPABILITIES:
        if isinstance(connector, capability):
            missing = [
                m for m in capability.methods if getattr(kind, m, None) is getattr(capability, m)
            ]
            if missing:
                raise ConnectorError(
                    f"`{name}` ({kind.__name__}) declares {capability.__name__} but does not "
                    f"define {', '.join(f'{m}()' for m in missing)}"
                )
            declared.append(capability)
        else:
            present = [m for m in capability.methods if callable(getattr(kind, m, None))]
            if present:
                raise ConnectorError(
                    f"`{name}` ({kind.__name__}) defines {', '.join(f'{m}()' for m in present)} "
                    f"but does not declare {capability.__name__}: add it to the class's bases "
                    f"(`from rillet.runtime.plugin import {capability.__name__}`)"
                )
    return declared
