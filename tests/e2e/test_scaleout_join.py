"""`rillet run --workers 2` on a `left join` whose keys have other names on each side (`buyer =
user, path = page`): each side is shuffled through Redis by its own key fields, so an order and
the clicks of its buyer on its page meet in one worker, and the two workers together write what
one process writes, pairs and orders without partner alike."""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path

from rillet.stdlib.generate import START_MS, click_events
from tests.conftest import rillet
from tests.servers import REDIS, redis_client

HEAD = """set batch_size = 200
set checkpoint_interval = 100ms
schema Click { ts: int, user: int, page: str, status: int, latency_ms: float }
schema Order { ts: int, buyer: int, path: str, amount: float }
"""
FLOW = """sink out = file("{out}")
stream seen = clicks | event_time ts lateness 3s
orders
  | event_time ts lateness 3s
  | left join seen on buyer = user, path = page within 500ms
  | into out
"""


def orders_for(clicks: list[dict], rng: random.Random) -> list[dict]:
    """An order for every third click, near it in time (so within 500 ms or not) by its user on
    its page, and a few by buyers who never click."""
    orders = []
    for i, click in enumerate(clicks[::3]):
        buyer, path = (click["user"], click["page"]) if i % 10 else (-i, "/nowhere")
        ts = click["ts"] + rng.randrange(-1000, 1000)
        orders.append({"ts": ts, "buyer": buyer, "path": path, "amount": float(i % 50)})
    return orders


def fill(stream: str, records: list[dict]) -> None:
    client = redis_client()
    client.delete(stream)
    pipe = client.pipeline(transaction=False)
    for record in records:
        pipe.xadd(stream, {"data": json.dumps(record)})
    pipe.execute()


def rows(paths: list[Path]) -> list[str]:
    return sorted(line for path in paths for line in path.read_text().splitlines())


def test_two_workers_left_join_on_keys_named_differently_as_one_process(tmp_path: Path) -> None:
    rng = random.Random(5)
    clicks = click_events(rng, 0, 6000, START_MS, 1.0)
    for click in clicks:  # fewer users, so that orders find their buyer's clicks
        click["user"] %= 40
    orders = orders_for(clicks, rng)
    names = {"clicks": f"clicks-{tmp_path.name}", "orders": f"orders-{tmp_path.name}"}
    fill(names["clicks"], clicks)
    fill(names["orders"], orders)
    brokered = "".join(
        f'source {name}: {schema} = redis_stream("{REDIS.url}", "{names[name]}", group="g", '
        "until_empty=true)\n"
        for name, schema in (("clicks", "Click"), ("orders", "Order"))
    )
    (tmp_path / "p.rill").write_text(HEAD + brokered + FLOW.format(out="out/joined.jsonl"))
    for name, records in (("clicks", clicks), ("orders", orders)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    files = (
        'source clicks: Click = file("clicks.jsonl")\nsource orders: Order = file("orders.jsonl")\n'
    )
    (tmp_path / "ref.rill").write_text(HEAD + files + FLOW.format(out="ref.jsonl"))

    one = rillet("run", "ref.rill", "-q", cwd=tmp_path)
    assert one.returncode == 0, one.stderr.decode()
    group = f"{tmp_path.name}-{uuid.uuid4().hex[:8]}"
    options = ("--workers", "2", "--broker", REDIS.url, "--group", group, "--fresh", "-q")
    two = rillet("run", "p.rill", *options, cwd=tmp_path, timeout=300)
    assert two.returncode == 0, two.stderr.decode()

    outputs = sorted((tmp_path / "out").glob("joined.w*.jsonl"))
    assert [p.name for p in outputs] == ["joined.w0.jsonl", "joined.w1.jsonl"]
    assert all(p.stat().st_size for p in outputs), "each worker joined some keys"
    expected = rows([tmp_path / "ref.jsonl"])
    alone = [r for r in expected if '"seen_ts":null' in r]
    assert len(expected) > len(orders) and 0 < len(alone) < len(orders)  # pairs and lone orders
    assert rows(outputs) == expected
