"""W5 by hand: each order joined with its user's clicks at most 5 s away, one plain msgspec loop.

`python bench/floor_w5.py CLICKS ORDERS OUTPUT`. Reads both files in step, the line with the
smaller time first, and pairs each record with the other side's records of its user held so
far, as rillet's join does: every order and click of a user at most 5 s apart, once. The pairs
come out in another order than rillet's (whose two sources run concurrently), so `bench/run.py`
compares this workload's outputs as sorted lines. Records older than the smaller horizon (max
event time seen minus 2 s, per side) minus 5 s can meet no later record; they are swept once
per 5 s of event time.
"""

from __future__ import annotations

import sys

import msgspec

WITHIN, LATENESS = 5_000, 2_000
NEVER = 2**63 - 1
FLUSH_BYTES = 1 << 16


class Click(msgspec.Struct, gc=False):
    ts: int
    user: int
    page: str
    status: int
    latency_ms: float


class Order(msgspec.Struct, gc=False):
    ts: int
    order_id: int
    user: int
    amount: float


class Pair(msgspec.Struct, gc=False):
    ts: int
    order_id: int
    user: int
    amount: float
    clicks_ts: int
    page: str
    status: int
    latency_ms: float


def pair(o: Order, c: Click) -> Pair:
    return Pair(o.ts, o.order_id, o.user, o.amount, c.ts, c.page, c.status, c.latency_ms)


def forget(held: dict[int, list], before: int) -> dict[int, list]:
    """The records at or after `before`, users without any left out."""
    fresh = {}
    for user, records in held.items():
        kept = [r for r in records if r.ts >= before]
        if kept:
            fresh[user] = kept
    return fresh


def records(path: str, decode):
    """The file's records, then one that sorts after every other."""
    with open(path, "rb") as f:
        for line in f:
            yield decode(line)
    while True:
        yield None


def main(clicks_path: str, orders_path: str, target: str) -> None:
    clicks = records(clicks_path, msgspec.json.Decoder(Click).decode)
    orders = records(orders_path, msgspec.json.Decoder(Order).decode)
    encode_into = msgspec.json.Encoder().encode_into
    held_clicks: dict[int, list[Click]] = {}
    held_orders: dict[int, list[Order]] = {}
    click_horizon = order_horizon = -NEVER
    next_sweep = -NEVER
    buffer = bytearray()
    c, o = next(clicks), next(orders)
    with open(target, "wb") as out:
        while c is not None or o is not None:
            if o is None or (c is not None and c.ts <= o.ts):
                ts = c.ts
                for other in held_orders.get(c.user, ()):
                    if abs(ts - other.ts) <= WITHIN:
                        encode_into(pair(other, c), buffer, -1)
                        buffer.append(10)
                held_clicks.setdefault(c.user, []).append(c)
                click_horizon = max(click_horizon, ts - LATENESS)
                c = next(clicks)
            else:
                ts = o.ts
                for other in held_clicks.get(o.user, ()):
                    if abs(ts - other.ts) <= WITHIN:
                        encode_into(pair(o, other), buffer, -1)
                        buffer.append(10)
                held_orders.setdefault(o.user, []).append(o)
                order_horizon = max(order_horizon, ts - LATENESS)
                o = next(orders)
            if len(buffer) > FLUSH_BYTES:
                out.write(buffer)
                buffer.clear()
            horizon = min(click_horizon, order_horizon)
            if horizon >= next_sweep:
                held_clicks = forget(held_clicks, horizon - WITHIN)
                held_orders = forget(held_orders, horizon - WITHIN)
                next_sweep = horizon + WITHIN
        out.write(buffer)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
