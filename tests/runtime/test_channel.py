"""Bounded channels (runtime/channel.py): every item sent through any outlet arrives exactly once,
in order per port, control items in band with the batches; the buffer never holds more than the
capacity, and the queued-batch metric never counts more than the buffer plus one batch per
sender (a sender blocked on a full channel holds one), whatever the interleaving.
"""

from __future__ import annotations

import anyio
from anyio.lowlevel import checkpoint
from hypothesis import given, settings
from hypothesis import strategies as st

from rillet.runtime import ManualClock
from rillet.runtime.channel import Channel
from rillet.runtime.item import END, Batch, End, Item, Origin, Watermark
from rillet.runtime.metrics import NodeMetrics

ORIGIN = Origin("test")


def _items(port: int, sizes: list[int]) -> list[Item]:
    """Batches of `sizes` records tagged (port, seq), a watermark after every third, then END."""
    items: list[Item] = []
    seq = 0
    for i, size in enumerate(sizes):
        records = [{"port": port, "seq": seq + k} for k in range(size)]
        items.append(Batch(records, list(range(seq, seq + size)), ORIGIN))
        seq += size
        if i % 3 == 2:
            items.append(Watermark(seq))
    items.append(END)
    return items


schedules = st.lists(st.integers(0, 3), max_size=40)


@settings(max_examples=120, deadline=None)
@given(
    capacity=st.integers(1, 4),
    sizes=st.lists(st.lists(st.integers(1, 5), max_size=25), min_size=1, max_size=3),
    sender_pauses=st.lists(schedules, min_size=3, max_size=3),
    receiver_pauses=schedules,
)
def test_channel_delivers_each_item_once_in_order_within_capacity(
    capacity: int,
    sizes: list[list[int]],
    sender_pauses: list[list[int]],
    receiver_pauses: list[int],
) -> None:
    channel = Channel(capacity, ManualClock())
    senders = len(sizes)
    sent = {port: _items(port, port_sizes) for port, port_sizes in enumerate(sizes)}
    received: dict[int, list[Item]] = {port: [] for port in sent}
    largest = max((s for port_sizes in sizes for s in port_sizes), default=0)

    def check_bounds() -> None:
        assert channel.statistics().current_buffer_used <= capacity
        m = channel.metrics
        assert 0 <= m.queued_batches <= capacity + senders
        assert 0 <= m.queued_records <= (capacity + senders) * largest

    async def send(port: int) -> None:
        outlet = channel.outlet(port, NodeMetrics(f"sender {port}", "source"))
        pauses = iter(sender_pauses[port])
        for item in sent[port]:
            await outlet.send(item)
            check_bounds()
            for _ in range(next(pauses, 0)):
                await checkpoint()

    async def receive() -> None:
        pauses = iter(receiver_pauses)
        ended = 0
        while ended < senders:
            check_bounds()
            port, item = await channel.receive()
            check_bounds()
            received[port].append(item)
            ended += isinstance(item, End)
            for _ in range(next(pauses, 0)):
                await checkpoint()

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(receive)
            for port in sent:
                tg.start_soon(send, port)

    try:
        anyio.run(main)
    finally:
        channel.close()
    assert received == sent
    assert (channel.metrics.queued_batches, channel.metrics.queued_records) == (0, 0)
    assert channel.statistics().current_buffer_used == 0
    assert largest <= channel.metrics.max_queued_records <= (capacity + senders) * largest


def test_full_channel_blocks_sender_until_receiver_takes_an_item() -> None:
    channel = Channel(2, ManualClock())
    sender = NodeMetrics("s", "source")
    outlet = channel.outlet(0, sender)
    progress: list[int] = []

    async def main() -> None:
        async with anyio.create_task_group() as tg:

            async def produce() -> None:
                for i in range(4):
                    await outlet.send(Batch([{"i": i}], [i], ORIGIN))
                    progress.append(i)

            tg.start_soon(produce)
            await anyio.wait_all_tasks_blocked()
            # two fit in the buffer; the third waits in `send`, counted as queued
            assert progress == [0, 1]
            assert channel.statistics().current_buffer_used == 2
            assert channel.statistics().tasks_waiting_send == 1
            assert channel.metrics.queued_batches == 3
            _, item = await channel.receive()
            assert isinstance(item, Batch) and item.records == [{"i": 0}]
            await anyio.wait_all_tasks_blocked()
            assert progress == [0, 1, 2]
            assert channel.metrics.queued_batches == 3
            for expected in (1, 2, 3):
                _, item = await channel.receive()
                assert isinstance(item, Batch) and item.records == [{"i": expected}]

    try:
        anyio.run(main)
    finally:
        channel.close()
    assert channel.metrics.queued_batches == 0
    assert channel.metrics.max_queued_records == 3
