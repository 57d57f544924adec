"""Record formats shared by connectors: decoding lines into records, encoding records.

Decoding works a batch at a time (one msgspec call for a whole batch of JSON lines); only a batch
that holds a bad line is decoded again line by line, to say which line and why.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import msgspec

from rillet.runtime.connector import BadRecord
from rillet.runtime.schema import Schema

FORMATS = ("jsonl", "csv", "lines")

_any_records = msgspec.json.Decoder(list[dict[str, Any]])
_any_record = msgspec.json.Decoder(dict[str, Any])
_encoder = msgspec.json.Encoder()


def _raw(line: bytes) -> str:
    return line.decode("utf-8", "replace")


def decode_jsonl(lines: list[bytes], offsets: list[int], schema: Schema | None
                 ) -> tuple[list[dict], list[int], list[BadRecord]]:
    """Records, their offsets, and the lines that were not valid records."""
    if b"" in lines:
        kept = [(line, o) for line, o in zip(lines, offsets) if line]
        lines, offsets = [k[0] for k in kept], [k[1] for k in kept]
    try:
        data = b"[" + b",".join(lines) + b"]"
        records = schema.decode_json_array(data) if schema else _any_records.decode(data)
        # a line holding `{..},{..}` (or one object split over lines) still makes a valid array;
        # only as many records as lines proves that each line was one record
        if len(records) == len(lines):
            return records, offsets, []
    except Exception:  # some line is bad, or breaks the decoder: found line by line below
        pass
    records, good, bad = [], [], []
    for line, offset in zip(lines, offsets):
        if not line.strip():
            continue
        try:
            records.append(schema.decode_json(line) if schema else _any_record.decode(line))
            good.append(offset)
        except msgspec.ValidationError as e:
            reason = schema.describe(e) if schema else "expected a JSON object"
            bad.append(BadRecord(reason, offset, _raw(line)))
        except msgspec.DecodeError as e:
            detail = str(e).removeprefix("JSON is malformed: ")
            bad.append(BadRecord(f"malformed JSON: {detail}", offset, _raw(line)))
        except RecursionError:  # deeper than the decoder's limit (Python's recursion limit)
            bad.append(BadRecord("JSON nested too deeply", offset, _raw(line)))
        except Exception as e:  # whatever else breaks on one line fails that line, not the run
            bad.append(BadRecord(f"cannot decode: {type(e).__name__}: {e}", offset, _raw(line)))
    return records, good, bad


def decode_lines(lines: list[bytes], offsets: list[int]) -> list[dict]:
    """The `lines` format: each line becomes `{"line": text}` (without the newline)."""
    return [{"line": line.rstrip(b"\r").decode("utf-8", "replace")} for line in lines]


class CsvRows:
    """Turns CSV rows into records under a header; offsets are data row numbers from 1."""

    def __init__(self, schema: Schema | None) -> None:
        self.schema = schema
        self.header: list[str] | None = None
        self.row = 0

    def decode(self, rows: list[list[str]]) -> tuple[list[dict], list[int], list[BadRecord]]:
        records, offsets, bad = [], [], []
        for row in rows:
            if self.header is None:
                self.header = row
                continue
            if not row:
                continue
            self.row += 1
            if len(row) != len(self.header):
                bad.append(BadRecord(
                    f"csv row has {len(row)} fields, the header has {len(self.header)}",
                    self.row, _csv_line(row)))
                continue
            record = dict(zip(self.header, row))
            if self.schema is not None:
                try:
                    record = self.schema.convert_strings(record)
                except msgspec.ValidationError as e:
                    bad.append(BadRecord(self.schema.describe(e), self.row, _csv_line(row)))
                    continue
            records.append(record)
            offsets.append(self.row)
        return records, offsets, bad


def _csv_line(row: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(row)
    return out.getvalue()


def encode_jsonl(records: list[dict]) -> bytes:
    return _encoder.encode_lines(records)


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return _encoder.encode(value).decode()
    return value


class CsvWriter:
    """Writes records as CSV under the first record's fields; later fields outside it are left
    out, missing ones left empty."""

    def __init__(self) -> None:
        self.header: list[str] | None = None

    def encode(self, records: list[dict]) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        if self.header is None and records:
            self.header = list(records[0])
            writer.writerow(self.header)
        header = self.header or []
        writer.writerows([_csv_value(r.get(k)) for k in header] for r in records)
        return out.getvalue().encode()
