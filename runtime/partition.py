"""Scale-out: the plan that one worker of several runs.

Every worker runs the whole pipeline on its share of the input (a broker's consumer group hands
each worker different entries). Before an operator whose state is kept per key (`aggregate`,
`rolling`, `top`, `dedupe`, `join`), each of its inputs is cut by a *shuffle*: a sink that sends
every record to the partition its key hashes to, and a source that reads this worker's own
partition. So each key's state lives in exactly one worker. The shuffle's connectors
(`stdlib/shuffle.py` on Redis, `stdlib/kafkashuffle.py` on Kafka) carry records, watermarks and
the end of input through the broker, exactly once across crashes.
"""

from __future__ import annotations

import zlib

import msgspec

from .plan import Aggregate, Dedupe, Join, Node, Op, Plan, Rolling, Sink, Source, Top


class Shuffle(msgspec.Struct, frozen=True):
    """One cut edge: its sink and source are both named `name`."""

    name: str
    keys: tuple[str, ...]


def shuffle_keys(op: Op, port: int) -> tuple[str, ...] | None:
    """The fields that decide the partition of a record on input `port` of `op`; None for an
    operator that keeps no state per key. An aggregate or rolling without `by` (a `top` without
    `per`) keys all records to one partition. A join's sides each by their own key fields, in
    the order of the keys: `partition_of` hashes the values alone, so equal keys meet whatever
    their names."""
    if isinstance(op, Aggregate | Rolling | Top | Dedupe):
        return op.keys
    if isinstance(op, Join):
        return op.right_keys if port == 1 else op.left_keys
    return None


def partition_plan(
    plan: Plan, broker: str, prefix: str, connector: str
) -> tuple[Plan, list[Shuffle]]:
    """`plan` with a shuffle on every input of every keyed operator, node ids renumbered in
    topological order (the runtime's expectation). The shuffle's connectors (the sink and
    source `connector`, registered by the broker's plugin) carry its records through `broker`
    under `prefix`."""
    nodes: list[Node] = []
    new_id: dict[int, int] = {}
    shuffles: list[Shuffle] = []

    def add(op: Op, inputs: tuple[int, ...], node: Node) -> int:
        nodes.append(Node(len(nodes), op, inputs, node.span))
        return len(nodes) - 1

    for node in plan.nodes:
        inputs = [new_id[i] for i in node.inputs]
        for port, upstream in enumerate(inputs):
            keys = shuffle_keys(node.op, port)
            if keys is not None:
                name = f"shuffle{node.id}.{port}"
                where = {"broker": broker, "prefix": prefix}
                add(Sink(name, connector, {**where, "keys": list(keys)}), (upstream,), node)
                inputs[port] = add(Source(name, connector, where), (), node)
                shuffles.append(Shuffle(name, keys))
        new_id[node.id] = add(node.op, tuple(inputs), node)
    error_sink = new_id[plan.error_sink] if plan.error_sink is not None else None
    return msgspec.structs.replace(plan, nodes=tuple(nodes), error_sink=error_sink), shuffles


_encode = msgspec.json.Encoder().encode


def partition_of(record: dict, keys: tuple[str, ...], partitions: int) -> int:
    """The partition of `record`: the same in every process (Python's `hash` is not)."""
    return zlib.crc32(_encode([record.get(k) for k in keys])) % partitions


__all__ = ["Shuffle", "partition_of", "partition_plan", "shuffle_keys"]
