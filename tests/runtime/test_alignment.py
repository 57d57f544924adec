"""Source alignment (runtime/alignment.py): two file sources joined on event time, one covering
the same span in a tenth of the lines. Each reads as fast as it can, so without alignment the
sparse one runs to its end at once and the join holds all of it; with it, the join holds what
`max_drift` allows. The records the join holds are counted as it runs (its own buffers, read
after every batch), never timed. A source that ends, or goes quiet while its input stays open,
stops holding the other back."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from rillet.runtime import prepare
from rillet.runtime.item import Batch
from rillet.runtime.join import JoinOperator
from rillet.runtime.operator import Output
from rillet.runtime.run import Execution
from tests.runtime._collect import CollectSink
from tests.runtime._streams import FeedSource, compiled_plan

CLICKS, ORDERS = 20_000, 2_000  # over the same 20 s: 1 ms and 10 ms apart


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("alignment")
    clicks = [{"ts": i, "user": i % 50} for i in range(CLICKS)]
    orders = [{"ts": i * 10, "user": i % 50, "order": i} for i in range(ORDERS)]
    short = orders[: ORDERS // 4]  # ends after 5 s
    for name, rows in (("clicks", clicks), ("orders", orders), ("short", short)):
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def pipeline(orders: str, drift: str, where: str = "") -> str:
    return (
        f"set batch_size = 100\nset max_drift = {drift}\n"
        'source clicks = file("clicks.jsonl")\n'
        f'source orders = file("{orders}.jsonl")\n'
        'sink out = file("out.jsonl")\n'
        "stream timed = clicks | event_time ts lateness 10ms\n"
        f"orders {where}| event_time ts lateness 10ms "
        "| join timed on user within 50ms | into out\n"
    )


class JoinWatch:
    """Counts what a run's join receives and holds, after each of its batches: the join's own
    `process` is called, then its buffers read."""

    def __init__(self, execution: Execution) -> None:
        (join,) = [
            n.operator
            for n in execution.physical.nodes.values()
            if isinstance(n.operator, JoinOperator)
        ]
        self.most_held, self.arrived = 0, [0, 0]
        process = join.process

        def counting(batch: Batch, port: int, out: Output) -> None:
            process(batch, port, out)
            self.arrived[port] += len(batch.records)
            held = sum(len(e) for side in join.sides for e in side.by_key.values())
            self.most_held = max(self.most_held, held)

        join.process = counting  # type: ignore[method-assign]


def run_counting_held(folder: Path, text: str) -> tuple[int, list[dict]]:
    """The run's output, and the most records its join held after any batch."""
    plan, registry = compiled_plan(text, folder)
    out = CollectSink()
    execution = prepare(plan, registry, sinks={"out": out})
    watch = JoinWatch(execution)
    anyio.run(execution.run)
    return watch.most_held, out.records


def expected_pairs(folder: Path, orders: str) -> int:
    rows = [json.loads(line) for line in (folder / f"{orders}.jsonl").read_text().splitlines()]
    return sum(
        1
        for o in rows
        for ts in range(max(0, o["ts"] - 50), min(CLICKS, o["ts"] + 51))
        if ts % 50 == o["user"]
    )


def test_a_source_running_ahead_waits_so_the_join_holds_what_the_drift_allows(
    folder: Path,
) -> None:
    aligned, pairs = run_counting_held(folder, pipeline("orders", "1s"))
    unaligned, unaligned_pairs = run_counting_held(folder, pipeline("orders", "1000h"))
    assert len(pairs) == len(unaligned_pairs) == expected_pairs(folder, "orders")
    # aligned: the orders since the clicks' watermark, at most the drift plus one batch of
    # orders (2 s: 200) ahead, and under a second of clicks; unaligned: about every order
    assert aligned < 1_200, aligned
    assert unaligned > 0.9 * ORDERS, unaligned


def test_a_source_that_ends_stops_holding_the_other_back(folder: Path) -> None:
    _, pairs = run_counting_held(folder, pipeline("short", "1s"))
    assert len(pairs) == expected_pairs(folder, "short")


def test_a_quiet_source_stops_holding_the_other_back(folder: Path) -> None:
    """Orders send one record at time 0, then nothing while their input stays open: after
    `IDLE_S` the clicks, 20 s ahead, go on to their end."""
    plan, registry = compiled_plan(pipeline("orders", "1s"), folder)
    orders = FeedSource()
    execution = prepare(plan, registry, sources={"orders": orders}, sinks={"out": CollectSink()})
    watch = JoinWatch(execution)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(execution.run)
            orders.feed([{"ts": 0, "user": 0, "order": 0}])
            with anyio.fail_after(60):  # a guard against waiting for ever, not a measure
                while watch.arrived[1] < CLICKS:
                    await anyio.sleep(0.05)
            orders.end()

    anyio.run(main)
    assert watch.arrived == [1, CLICKS]
