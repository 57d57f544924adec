"""Record formats shared by connectors: decoding lines into records, encoding records.

Decoding works a batch at a time (one msgspec call for a whole batch of JSON lines); only a batch
that holds a bad line is decoded again line by line, to say which line and why.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import msgspec

from rillet.runtime.plugin import BadRecord, Schema

FORMATS = ("jsonl", "csv", "lines")

_any_records = msgspec.json.Decoder(list[dict[str, Any]])
_any_record = msgspec.json.Decoder(dict[str, Any])
_encoder = msgspec.json.Encoder()


def _raw(line: bytes) -> str:
    return line.decode("utf-8", "replace")


def decode_jsonl(
    lines: list[bytes], offsets: Sequence[Any], schema: Schema | None
) -> tuple[list[dict], Sequence[Any], list[BadRecord]]:
    """Records, their offsets (byte offsets in a file, ids in a stream), and the lines that
    were not valid records."""
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


def decode_lines(lines: list[bytes], offsets: Sequence[Any]) -> list[dict]:
    """The `lines` format: each line becomes `{"line": text}` (without the newline)."""
    return [{"line": line.rstrip(b"\r").decode("utf-8", "replace")} for line in lines]


class Unparsed(list):
    """A CSV row that could not be read: it still counts as a row, and becomes a bad record.
    An empty list, so that `CsvRows` looks for it only where it skips blank rows, not in the
    test every row takes."""

    def __init__(self, reason: str, text: str) -> None:
        super().__init__()
        self.reason, self.text = reason, text


class CsvParser:
    """Whole CSV rows out of lines: a row goes on over lines while its quotes are unbalanced (a
    quoted newline), also from one call to the next. Rows are read as UTF-8, as JSON lines are:
    a row that is not UTF-8, or that the csv module cannot parse (a value over its size limit),
    becomes an `Unparsed` in its place, so that it is reported with its row number. Values are
    separated by `delimiter`; quoting is with `"` whatever the delimiter."""

    def __init__(self, delimiter: str = ",") -> None:
        self.delimiter = delimiter
        self.open_row: list[bytes] = []  # lines of a row with an odd number of quotes so far
        self.quotes = 0

    @property
    def pending(self) -> bool:
        """Whether a row is open, waiting for the line that closes its quoted value."""
        return bool(self.open_row)

    def rows(self, lines: list[bytes]) -> list[list[str] | Unparsed]:
        """The rows that `lines` (without their newlines) complete."""
        data = b"\n".join(lines)
        if self.open_row or b'"' in data:  # a quoted value may hold a newline
            return _parse_csv(self._whole(lines), self.delimiter)
        return _parse_csv(lines, self.delimiter, data)

    def finish(self) -> list[list[str] | Unparsed]:
        """The input ended: a quoted value never closed is parsed as the csv module does."""
        if not self.open_row:
            return []
        row, self.open_row, self.quotes = b"\n".join(self.open_row), [], 0
        return _parse_csv([row], self.delimiter)

    def _whole(self, lines: list[bytes]) -> list[bytes]:
        whole = []
        for line in lines:  # quotes are doubled inside a value: an even count closes the row
            self.open_row.append(line)
            self.quotes += line.count(b'"')
            if self.quotes % 2 == 0:
                whole.append(b"\n".join(self.open_row))
                self.open_row, self.quotes = [], 0
        return whole


def _parse_csv(
    rows: list[bytes], delimiter: str, joined: bytes | None = None
) -> list[list[str] | Unparsed]:
    """One parsed row for each of `rows`: all at once, or row by row when one is bad. `joined`
    is the rows joined by newlines when none holds one: decoded in one call."""
    if not rows:
        return []
    try:
        texts = joined.decode().split("\n") if joined is not None else [r.decode() for r in rows]
        parsed: list[list[str] | Unparsed] = list(csv.reader(texts, delimiter=delimiter))
        if len(parsed) == len(rows):  # else a quote inside a value fooled the count
            return parsed
    except (UnicodeDecodeError, csv.Error):
        pass
    return [_parse_row(row, delimiter) for row in rows]


def _parse_row(row: bytes, delimiter: str) -> list[str] | Unparsed:
    try:
        text = row.decode()
    except UnicodeDecodeError as e:
        return Unparsed(f"invalid UTF-8 (byte {e.start} of the row)", _raw(row))
    try:
        return next(csv.reader([text], delimiter=delimiter))
    except csv.Error as e:
        return Unparsed(f"malformed CSV: {e}", text)


class CsvRows:
    """Turns CSV rows into records under a header; offsets are data row numbers from 1. A
    header that cannot be read is a bad record at row 0, and leaves every row bad.

    Without a header row (`header=False`) the fields are the schema's, in their order, or
    without a schema `c1`, `c2`, ... by position, as many as each row has: there is no header
    to hold a row's width against, so only a schema's is."""

    def __init__(self, schema: Schema | None, header: bool = True, delimiter: str = ",") -> None:
        self.schema = schema
        self.header: list[str] | None = None
        self.delimiter = delimiter
        self.row = 0
        self.positional = False  # fields named c1, c2, ... by position
        self.width_of = "the header"  # what a row's number of values is held against
        if not header and schema is not None:
            self.header = [f.name for f in schema.spec.fields]
            self.width_of = "the schema"
        elif not header:
            self.header, self.positional = [], True

    def decode(
        self, rows: list[list[str] | Unparsed]
    ) -> tuple[list[dict], list[int], list[BadRecord]]:
        records, offsets, bad = [], [], []
        for row in rows:
            if self.header is None:
                if isinstance(row, Unparsed):
                    bad.append(BadRecord(f"the header row: {row.reason}", 0, row.text))
                    row = []
                self.header = row
                continue
            if not row:
                if isinstance(row, Unparsed):
                    self.row += 1
                    bad.append(BadRecord(row.reason, self.row, row.text))
                continue
            self.row += 1
            if self.positional:
                while len(self.header) < len(row):
                    self.header.append(f"c{len(self.header) + 1}")
            elif len(row) != len(self.header):
                bad.append(
                    BadRecord(
                        f"csv row has {len(row)} fields, {self.width_of} has {len(self.header)}",
                        self.row,
                        _csv_line(row, self.delimiter),
                    )
                )
                continue
            record = dict(zip(self.header, row))
            if self.schema is not None:
                try:
                    record = self.schema.convert_strings(record)
                except msgspec.ValidationError as e:
                    bad.append(
                        BadRecord(self.schema.describe(e), self.row, _csv_line(row, self.delimiter))
                    )
                    continue
            records.append(record)
            offsets.append(self.row)
        return records, offsets, bad


def _csv_line(row: list[str], delimiter: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="", delimiter=delimiter).writerow(row)
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
    out, missing ones left empty. With `header=False` the columns are the same, and the header
    row is not written."""

    def __init__(self, delimiter: str = ",", header: bool = True) -> None:
        self.header: list[str] | None = None
        self.delimiter = delimiter
        self.write_header = header

    def encode(self, records: list[dict]) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n", delimiter=self.delimiter)
        if self.header is None and records:
            self.header = list(records[0])
            if self.write_header:
                writer.writerow(self.header)
        header = self.header or []
        writer.writerows([_csv_value(r.get(k)) for k in header] for r in records)
        return out.getvalue().encode()
