"""The shuffle between workers on Kafka next to the one on Redis: `python bench/kafka_shuffle.py
[--events N]`.

N click events go into a topic of 4 partitions (as bench/kafka_w1.py fills it); then W2 (per-user
tumbling windows, so every record crosses a shuffle before `aggregate by user`) reads it as one
process, and as `--workers 2` with the shuffle on Redis (`--broker redis://`) and on Kafka
topics (`--broker kafka://`), as whole processes. One run each, on a shared machine: compare
ratios, not events/s.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from broker import events, rillet_run  # noqa: E402
from kafka_w1 import PARTITIONS, fill  # noqa: E402

from tests.servers import KAFKA, REDIS, ensure  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    ensure(KAFKA)
    ensure(REDIS)
    n, topic = args.events, f"bench-{uuid.uuid4().hex[:8]}"
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    print(f"{n:,} events, {PARTITIONS} partitions")
    fill(topic, events(n))
    params = {"brokers": KAFKA.url, "topic": topic}
    pipeline = HERE / "w2_kafka.rill"
    one = rillet_run(pipeline, {**params, "group": "w2"}, n, "rillet W2, 1 process", out)
    for name, url in (("Redis", REDIS.url), ("Kafka", f"kafka://{KAFKA.url}")):
        two = rillet_run(
            pipeline,
            {**params, "group": f"w2-{name}", "output": f"out/w2_kafka_{name.lower()}.jsonl"},
            n,
            f"  --workers 2, shuffle on {name}",
            out,
            "--workers",
            "2",
            "--broker",
            url,
            "--group",
            f"bench-{topic}-{name.lower()}",
        )
        print(f"{'    of 1 process':<34}{two / one:>12.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
