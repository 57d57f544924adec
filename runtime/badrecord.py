"""What becomes of a bad record: the error record the `errors into` sink receives, or, with no
such sink, the one failure that stops the run. Built here only, so a record a source could not
read, one a stage's expression failed on and one an operator refused read alike."""

from __future__ import annotations

from typing import Any

import msgspec

from .connector import BadRecord, SourceBatch
from .failure import RecordError
from .item import Origin
from .plan import Node, Plan
from .schema import Schema

HINT = "hint: add `errors into SINK` to send bad records to a sink and keep going"


def location(plan: Plan, node: Node) -> str:
    if node.span is None:
        return plan.file
    return f"{plan.file}:{node.span.line}:{node.span.col}"


def error_record(
    reason: str,
    origin: Origin,
    offset: int | str | None,
    raw: Any,
    operator: str | None = None,
    at: str | None = None,
) -> dict:
    """The record the error sink receives for one bad input."""
    return {
        "reason": reason,
        "source": origin.source,
        "file": origin.file,
        "offset": offset,
        "operator": operator,
        "at": at,
        "raw": raw,
    }


def describe(record: Any) -> str:
    text = msgspec.json.encode(record, enc_hook=repr).decode()
    return text if len(text) <= 200 else text[:197] + "..."


def _where(origin: Origin) -> str:
    return f"{origin.file} " if origin.file else ""


def unreadable(at: str, origin: Origin, bad: BadRecord) -> RecordError:
    """The run stops on input its source could not turn into a record."""
    return RecordError(
        f"source `{origin.source}` ({at}): bad record at {_where(origin)}offset {bad.offset}: "
        f"{bad.reason}\n  {HINT}"
    )


def failed(at: str, reason: str, origin: Origin, offset: Any, record: Any) -> RecordError:
    """The run stops on a record an operator failed on (`reason`)."""
    came = (
        f"from source `{origin.source}` at {_where(origin)}offset {offset}"
        if offset is not None
        else f"made by `{origin.source}`"
    )
    return RecordError(f"{at}: {reason}\n  record {came}: {describe(record)}\n  {HINT}")


def make_typed(batch: SourceBatch, schema: Schema) -> None:
    """Turn a batch of dicts into the typed records its readers expect; a record that does not
    fit the schema becomes a bad record."""
    records, offsets = [], []
    for record, offset in zip(batch.records, batch.offsets):
        try:
            records.append(schema.validate(record))
            offsets.append(offset)
        except msgspec.ValidationError as e:
            batch.bad.append(BadRecord(schema.describe(e), offset, record))
    batch.records, batch.offsets = records, offsets
