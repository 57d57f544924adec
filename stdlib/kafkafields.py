"""The fields a `kafka` source adds to each record with `metadata=true` (`kafka.py`): what the
checker learns it adds (`Spec.adds`), and their values for one message."""

from __future__ import annotations

from typing import Any

METADATA: dict[str, Any] = {
    "kafka_key": str | None,
    "kafka_partition": int,
    "kafka_offset": int,
    "kafka_timestamp": int | None,
}
"""The fields `metadata=true` adds, with their types: the key as text (null when none), and
the timestamp in epoch milliseconds as `event_time` reads it (null when the broker has none)."""


def metadata_fields(config: Any) -> dict[str, Any]:
    """What the checker learns a source adds (`Spec.adds`)."""
    return METADATA if config.metadata else {}


def metadata(message: Any) -> dict[str, Any]:
    """The fields of one message."""
    from confluent_kafka import TIMESTAMP_NOT_AVAILABLE

    key, (kind, stamp) = message.key(), message.timestamp()
    return {
        "kafka_key": None if key is None else key.decode("utf-8", "replace"),
        "kafka_partition": message.partition(),
        "kafka_offset": message.offset(),
        "kafka_timestamp": None if kind == TIMESTAMP_NOT_AVAILABLE else stamp,
    }


__all__ = ["METADATA", "metadata", "metadata_fields"]
