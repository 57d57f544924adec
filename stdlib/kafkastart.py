"""Where a `kafka` source starts a partition that neither a checkpoint nor the consumer group
has an offset for: `from="earliest"`, `"latest"`, or an ISO-8601 time.

Brokers do not all answer the offset queries as Kafka does: Tansu's latest offset is the start of
its last batch, and it answers a time with the partition's first offset. So the end of a
partition is taken from a fetch (whose high watermark is right), and a partition started from
a time's offset may still skip messages stamped before it (`KafkaSource`'s `before`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from .filecheck import invalid

EARLIEST, LATEST = "earliest", "latest"
END_POLL_S, END_POLLS = 0.1, 100
"""How long, and how often, to wait for a fetch to say where a partition ends: beyond that,
the broker is not answering."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def start_ms(setting: str) -> int | None:
    """`from` as epoch milliseconds, None for "earliest" and "latest"; a `ValueError` that
    `rillet check` shows under the argument for anything else. No zone means UTC, as for
    `event_time`."""
    if setting in (EARLIEST, LATEST):
        return None
    try:
        moment = datetime.fromisoformat(setting)
    except ValueError:
        expected = f'"{EARLIEST}", "{LATEST}" or an ISO-8601 time such as "2026-12-01T00:00:00Z"'
        raise invalid("from", f"expected {expected}, found {json.dumps(setting)}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def first_offsets(
    consumer: Any, topic: str, partitions: list[int], setting: str, timeout_s: float
) -> tuple[dict[int, int], dict[int, int]]:
    """Each partition's first offset under `setting`, and for those a time's lookup placed,
    the time whose earlier messages they still skip. Blocking: run it in a thread."""
    if not partitions or setting == EARLIEST:
        return dict.fromkeys(partitions, 0), {}
    at = start_ms(setting)
    if at is None:
        return _ends(consumer, topic, partitions, timeout_s), {}
    found = {
        tp.partition: tp.offset
        for tp in _lookup(consumer, topic, partitions, at, timeout_s)
        if tp.offset >= 0  # else no message at or after it: the partition starts at its end
    }
    rest = [p for p in partitions if p not in found]
    ends = _ends(consumer, topic, rest, timeout_s) if rest else {}
    return {**found, **ends}, dict.fromkeys(found, at)


def _lookup(consumer: Any, topic: str, partitions: list[int], at: int, timeout_s: float) -> list:
    from confluent_kafka import KafkaException, TopicPartition

    asked = [TopicPartition(topic, p, at) for p in partitions]
    found = consumer.offsets_for_times(asked, timeout=timeout_s)
    for tp in found:
        if tp.error is not None:
            raise KafkaException(tp.error)
    return found


def _ends(consumer: Any, topic: str, partitions: list[int], timeout_s: float) -> dict[int, int]:
    """Where each partition ends: the high watermark of the first fetch from the broker's
    latest offset (which may lag, see above). Leaves the consumer assigned there."""
    from confluent_kafka import OFFSET_END, KafkaError, KafkaException, TopicPartition

    latest = _lookup(consumer, topic, partitions, OFFSET_END, timeout_s)  # a time of -1: the end
    listed = {tp.partition: tp.offset for tp in latest}
    consumer.assign(latest)
    ends: dict[int, int] = {}
    for _ in range(END_POLLS):
        for message in consumer.consume(len(partitions), END_POLL_S):
            error, partition = message.error(), message.partition()
            if error is not None and error.code() != KafkaError._PARTITION_EOF:
                raise KafkaException(error)
            if partition not in ends:
                mark = TopicPartition(topic, partition)
                fetched = consumer.get_watermark_offsets(mark, cached=True)[1]
                ends[partition] = max(fetched, listed[partition])
        if len(ends) == len(partitions):
            return ends
    unknown = sorted(set(partitions) - set(ends))
    raise KafkaException(
        KafkaError(KafkaError._TIMED_OUT, f"no fetch said where partitions {unknown} end")
    )
