"""Stream entries as the `redis_stream` source receives them, made records: the JSON document
in one field, or the entry's fields as a record of strings converted by the schema."""

from __future__ import annotations

import msgspec

from rillet.runtime.plugin import BadRecord, Schema

from .formats import decode_jsonl

_encoder = msgspec.json.Encoder()

Entry = tuple[bytes, list[bytes] | None]
"""An entry as Redis sends it: its id and its fields and values in one list (None or empty
when the entry was deleted since it was delivered)."""


def decode_entries(
    entries: list[Entry], field: str, schema: Schema | None
) -> tuple[list[dict], list[str], list[BadRecord]]:
    """Records, their stream ids and the entries that are not records.

    An entry holding `field` is the JSON document in it (other fields are ignored); an entry
    without it is its fields as a record of strings (converted by the schema, as for CSV). A
    deleted entry is skipped."""
    key = field.encode()
    if all(fields and len(fields) == 2 and fields[0] == key for _, fields in entries):
        lines, ids, bad = [], [], []  # the common case: decoded in one msgspec call
        for entry_id, fields in entries:
            value = fields[1]  # type: ignore[index]
            if value.strip():
                lines.append(value)
                ids.append(entry_id.decode())
            else:
                bad.append(BadRecord(f"empty `{field}` field", entry_id.decode(), ""))
        records, found, more = decode_jsonl(lines, ids, schema)
        return records, list(found), bad + more
    records, offsets, bad = [], [], []
    for entry_id, flat in entries:
        if not flat:
            continue
        pairs = dict(zip(flat[::2], flat[1::2]))
        if key in pairs:
            one, _, wrong = decode_entries([(entry_id, [key, pairs[key]])], field, schema)
        else:
            one, wrong = _fields_record(entry_id, pairs, schema)
        records += one
        offsets += [entry_id.decode()] * len(one)
        bad += wrong
    return records, offsets, bad


def _fields_record(
    entry_id: bytes, fields: dict[bytes, bytes], schema: Schema | None
) -> tuple[list[dict], list[BadRecord]]:
    record = {k.decode("utf-8", "replace"): v.decode("utf-8", "replace") for k, v in fields.items()}
    if schema is not None:
        try:
            record = schema.convert_strings(record)
        except msgspec.ValidationError as e:
            raw = _encoder.encode(record).decode()
            return [], [BadRecord(schema.describe(e), entry_id.decode(), raw)]
    return [record], []
