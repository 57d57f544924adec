"""The contract of the source connectors, run against each source on a real input: test_file.py,
test_redis_stream.py, test_nats.py and test_shuffle.py subclass `SourceContract` and give it an
`input` fixture (`Input` below). A third-party source passes it the same way.

The contract: the source declares its capabilities as it implements them; reading to the end
of the input gives every record written once, in order; a new instance resumed at a
`position()` (`open()`, then `seek()`, as runtime/run.py does) reads exactly the rest, also
after a `commit()` of that position and after a read cancelled half way; a committing source
that keeps its place in a broker's consumer group gives a fresh instance of the group only what
no commit covered; an empty input ends without error; `aclose()` works after `open()` and after
a partial read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import anyio
import msgspec

import rillet.stdlib
from rillet.runtime.capability import Committing, Seekable, check
from rillet.runtime.clock import SystemClock
from rillet.runtime.connector import SourceContext
from rillet.runtime.registry import Registry

REGISTRY = Registry.from_plugins([rillet.stdlib.plugin])
COUNT = 250
"""Records of each test's input: more than two batches of `BATCH_SIZE`."""
BATCH_SIZE = 100
MAX_BATCHES = 1000
"""Reads after which an input that should have ended is taken as never ending."""


class Input(Protocol):
    """One input of one test, and the source connector that reads it."""

    name: str
    """The source's name in the registry (`Registry.get("source", name)`)."""
    bounded: bool
    """Whether `read_batch()` returns None at the end of the input."""
    group: bool
    """Whether the source keeps its place in a broker's consumer group: a fresh instance of the
    group (no `seek`) goes on from what `commit()` acknowledged."""

    def fill(self, records: list[dict]) -> None:
        """Write `records`, in this order, as the whole input (then its end, where the input
        says where it ends, as the shuffle's producer does)."""

    def source(self) -> Any:
        """A new source instance on the input, not opened, whose batches hold at most
        `BATCH_SIZE` records (the standard library's are built from its registry by `build`)."""


def build(name: str, config: dict[str, Any], /, **context: Any) -> Any:
    """The source `name` of the standard library built as the runtime builds it
    (runtime/connectors.py), with a context of `BATCH_SIZE` records and `context`'s fields."""
    spec = REGISTRY.get("source", name)
    assert spec is not None, f"no source `{name}`"
    fields: dict[str, Any] = {
        "name": "events",
        "schema": None,
        "clock": SystemClock(),
        "base_dir": Path("."),
        "batch_size": BATCH_SIZE,
        "batch_timeout_s": 0.05,
        **context,
    }
    return spec.obj(msgspec.convert(config, spec.config), SourceContext(**fields))


def records(start: int, stop: int) -> list[dict]:
    return [{"n": i, "s": f"record {i}"} for i in range(start, stop)]


def run(fn, *args):  # type: ignore[no-untyped-def]
    return anyio.run(fn, *args)


async def read(source: Any) -> list[dict] | None:
    """One batch's records (checked to have an offset each), or None at the end."""
    batch = await source.read_batch()
    if batch is None:
        return None
    assert batch.bad == [], f"bad records: {batch.bad}"
    assert len(batch.offsets) == len(batch.records)
    assert len(batch.records) <= BATCH_SIZE
    return list(batch.records)


async def read_part(source: Any, batches: int = 2) -> list[dict]:
    """The records of the input's first `batches` batches with records."""
    got: list[dict] = []
    for _ in range(MAX_BATCHES):
        if batches == 0:
            return got
        part = await read(source)
        assert part is not None, f"the input ended after {len(got)} records"
        if part:
            got += part
            batches -= 1
    raise AssertionError(f"no more records after {len(got)}")


async def drain(source: Any, bounded: bool, expected: int) -> list[dict]:
    """Every record left: up to the end of a bounded input; for one that does not end, until
    `expected` have come and then a few more batches, which must be empty."""
    got: list[dict] = []
    for _ in range(MAX_BATCHES):
        part = await read(source)
        if part is None:
            assert bounded, "an unbounded source ended"
            return got
        got += part
        if not bounded and len(got) >= expected:
            for _ in range(3):
                more = await read(source)
                assert more == [], f"records beyond the input: {more}"
            return got
    raise AssertionError(f"the input did not end after {MAX_BATCHES} reads ({len(got)} records)")


class SourceContract:
    def test_declares_the_capabilities_it_implements(self, input: Input) -> None:
        source = input.source()
        check(source, input.name)
        assert isinstance(source, Seekable), "a source of this contract can be resumed"

    def test_reads_every_record_once_in_order(self, input: Input) -> None:
        input.fill(records(0, COUNT))

        async def main() -> list[dict]:
            source = input.source()
            await source.open()
            try:
                return await drain(source, input.bounded, COUNT)
            finally:
                await source.aclose()

        assert run(main) == records(0, COUNT)

    def test_resumed_at_a_position_reads_exactly_the_rest(self, input: Input) -> None:
        input.fill(records(0, COUNT))

        async def first() -> tuple[list[dict], Any]:
            source = input.source()
            await source.open()
            try:
                return await read_part(source), source.position()
            finally:
                await source.aclose()

        read_first, position = run(first)
        assert 0 < len(read_first) < COUNT
        assert read_first == records(0, len(read_first))
        position = msgspec.json.decode(msgspec.json.encode(position))  # as a checkpoint holds it

        async def resumed() -> list[dict]:
            source = input.source()
            await source.open()  # runtime/run.py: every source opened, then seeked
            source.seek(position)
            try:
                return await drain(source, input.bounded, COUNT - len(read_first))
            finally:
                await source.aclose()

        assert run(resumed) == records(len(read_first), COUNT)

    def test_resumed_at_a_committed_position_reads_exactly_the_rest(self, input: Input) -> None:
        """A checkpoint was saved and committed; the run read on, then died."""
        input.fill(records(0, COUNT))
        if not isinstance(input.source(), Committing):
            assert not input.group, "a source keeping a group's place commits"
            return

        async def first() -> tuple[int, Any]:
            source = input.source()
            await source.open()
            try:
                covered = len(await read_part(source, 1))
                position = source.position()
                await read_part(source, 1)  # read after the checkpoint, never covered
                await source.commit(position)
                return covered, position
            finally:
                await source.aclose()

        covered, position = run(first)

        async def resumed() -> list[dict]:
            source = input.source()
            await source.open()
            source.seek(msgspec.json.decode(msgspec.json.encode(position)))
            try:
                return await drain(source, input.bounded, COUNT - covered)
            finally:
                await source.aclose()

        assert run(resumed) == records(covered, COUNT)

    def test_a_fresh_instance_of_the_group_gets_only_what_no_commit_covered(
        self, input: Input
    ) -> None:
        """A run with no checkpoint to resume from (no `seek`) after one that committed."""
        input.fill(records(0, COUNT))
        committing = isinstance(input.source(), Committing)
        if not input.group:
            return
        assert committing, "a source keeping a group's place commits"

        async def first() -> int:
            source = input.source()
            await source.open()
            try:
                covered = len(await read_part(source, 1))
                position = source.position()
                await read_part(source, 1)  # read, not covered by the commit
                await source.commit(position)
                return covered
            finally:
                await source.aclose()

        covered = run(first)

        async def fresh() -> list[dict]:
            source = input.source()
            await source.open()
            try:
                return await drain(source, input.bounded, COUNT - covered)
            finally:
                await source.aclose()

        assert run(fresh) == records(covered, COUNT)

    def test_an_empty_input_ends_without_error(self, input: Input) -> None:
        input.fill([])

        async def main() -> list[dict]:
            source = input.source()
            await source.open()
            try:
                return await drain(source, input.bounded, 0)
            finally:
                await source.aclose()

        assert run(main) == []

    def test_aclose_after_open_and_after_a_partial_read(self, input: Input) -> None:
        input.fill(records(0, COUNT))

        async def main() -> None:
            opened = input.source()
            await opened.open()
            await opened.aclose()
            partial = input.source()
            await partial.open()
            got = await read_part(partial, 1)
            assert got == records(0, len(got))
            await partial.aclose()

        run(main)

    def test_a_cancelled_read_loses_nothing_on_resume(self, input: Input) -> None:
        """A run fails while a read is under way: the read is cancelled, `aclose()` follows, and
        the next run resumes at the last position taken."""
        input.fill(records(0, COUNT))

        async def failed() -> tuple[int, Any]:
            source = input.source()
            await source.open()
            try:
                covered = len(await read_part(source, 1))
                position = source.position()
                with anyio.move_on_after(0.001):
                    await source.read_batch()
                return covered, position
            finally:
                await source.aclose()

        covered, position = run(failed)

        async def resumed() -> list[dict]:
            source = input.source()
            await source.open()
            source.seek(msgspec.json.decode(msgspec.json.encode(position)))
            try:
                return await drain(source, input.bounded, COUNT - covered)
            finally:
                await source.aclose()

        assert run(resumed) == records(covered, COUNT)
