"""The bottleneck named in a real run: a plugin operator that sleeps per batch is the slow node,
and the monitor names it for its share of the time, not for a full input (records pile up in
front of another node, or nowhere when each node gets its turn per batch).

Three such operators sleep 4, 4 and 8 ms per batch: the third takes the largest share of the
time, yet less than half of it, whatever the machine's speed (the sleeps dominate the work),
so the rule cannot lean on one node taking over the event loop."""

from __future__ import annotations

from pathlib import Path

import anyio

from rillet.dsl.pipeline import compile_file
from rillet.runtime.monitor.monitor import Monitor
from rillet.runtime.run import prepare

SLOW_PLUGIN = '''\
import time

from rillet.runtime.plugin import Plugin

plugin = Plugin("slow")


@plugin.operator("crawl", batch=True)
def crawl(records: list[dict], ms: float = 1.0) -> list[dict]:
    """Sleeps `ms` per batch: a slow call to somewhere else."""
    time.sleep(ms / 1000)
    return records
'''

PIPELINE = """\
use "slow.py"

source clicks = generate(count=100000000)
sink   out    = file("out/clicks.jsonl")

clicks
  | where status == 200
  | crawl(ms=4)
  | crawl(ms=4)
  | crawl(ms=8)
  | derive slow = latency_ms > 250
  | into out
"""

SAMPLES = 6


def test_the_slow_plugin_operator_is_named_the_bottleneck(tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(SLOW_PLUGIN)
    (tmp_path / "p.rill").write_text(PIPELINE)
    compiled = compile_file(str(tmp_path / "p.rill"))
    assert compiled.ok and compiled.plan is not None and compiled.checked is not None
    execution = prepare(compiled.plan, compiled.checked.registry)
    monitor = Monitor(execution, "none")
    named: list[str | None] = []

    async def watch() -> None:
        await execution.clock.sleep(2.0)  # the channels fill, the rates cover a few seconds
        while len(named) < SAMPLES:
            await execution.clock.sleep(0.5)
            shot = monitor.tick()
            named.append(None if shot.bottleneck is None else shot.bottleneck.info.label)
            if named[-1] is not None:
                assert shot.bottleneck is not None
                full = [n.info.label for n in shot.nodes if (n.fill or 0) >= 0.75]
                assert "crawl@10" not in full, full  # named for its time, not its input
                assert shot.bottleneck.busy < 0.5
        execution.abort()

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch)
            await execution.run()

    anyio.run(main)
    assert named == ["crawl@10"] * SAMPLES
