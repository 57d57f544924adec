"""Record formats (stdlib/formats.py): a batch of JSON lines decodes in one call, but only when
each line is exactly one record; otherwise line by line, so every bad line is named by its own
offset and every good record keeps its own.
"""

from __future__ import annotations

import msgspec
import pytest

from rillet.runtime.plan import FieldSpec, SchemaSpec, TypeSpec
from rillet.runtime.schema import Schema
from rillet.stdlib.formats import CsvRows, Unparsed, decode_jsonl

POINT = Schema(
    SchemaSpec(
        "Point",
        (FieldSpec("x", TypeSpec("int")), FieldSpec("label", TypeSpec("str", optional=True))),
    )
)


def test_decode_jsonl_skips_blank_lines_and_keeps_offsets() -> None:
    records, offsets, bad = decode_jsonl(
        [b'{"x": 1}', b"", b"  ", b'{"x": 2}'], [0, 9, 10, 13], None
    )
    assert (records, offsets, bad) == ([{"x": 1}, {"x": 2}], [0, 13], [])


@pytest.mark.parametrize(
    "lines",
    [
        [b'{"x": 1}, {"x": 2}', b'{"x": 3}'],
        [b'{"x": 1} {"x": 2}', b'{"x": 3}'],
        [b'{"x": "a', b'b"}', b'{"x": 3}'],
        [b'{"x": [1', b"2]}", b'{"x": 3}'],
    ],
    ids=["two-objects-comma", "two-objects-space", "string-over-lines", "list-over-lines"],
)
def test_decode_jsonl_never_lets_a_line_hold_two_records_or_half_of_one(lines: list[bytes]) -> None:
    starts = [100 * i for i in range(len(lines))]
    records, offsets, bad = decode_jsonl(lines, starts, None)
    assert (records, offsets) == ([{"x": 3}], starts[-1:])
    assert [b.offset for b in bad] == starts[:-1]


def test_decode_jsonl_names_non_object_and_schema_failures() -> None:
    records, offsets, bad = decode_jsonl(
        [b"[1]", b'{"x": "one"}', b'{"x": 2, "y": 0}', b'{"label": "p"}'], [0, 4, 17, 34], POINT
    )
    assert (records, offsets) == ([{"x": 2}], [17])
    assert [(b.offset, b.reason) for b in bad] == [
        (0, "schema `Point`: expected `object`, got `array`"),
        (4, "schema `Point`: expected `int`, got `str` at `x`"),
        (34, "schema `Point`: object missing required field `x`"),
    ]
    _, _, bad = decode_jsonl([b"[1]", b"7"], [0, 4], None)
    assert [b.reason for b in bad] == ["expected a JSON object"] * 2


DEEP = b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}"


@pytest.mark.parametrize("schema", [None, POINT], ids=["plain", "schema"])
def test_decode_jsonl_sends_a_line_nested_too_deeply_to_bad(schema: Schema | None) -> None:
    records, offsets, bad = decode_jsonl([b'{"x": 1}', DEEP, b'{"x": 2}'], [0, 9, 10019], schema)
    assert (records, offsets) == ([{"x": 1}, {"x": 2}], [0, 10019])
    assert [(b.offset, b.reason, b.raw) for b in bad] == [
        (9, "JSON nested too deeply", DEEP.decode())
    ]


def test_decode_jsonl_sends_a_line_its_decoder_fails_on_to_bad(monkeypatch) -> None:
    class Failing:
        """A decoder that fails as no JSON decoder should, on the line holding "boom"."""

        def decode(self, data: bytes) -> object:
            if b"boom" in data:
                raise OverflowError("boom")
            return msgspec.json.decode(data)

    monkeypatch.setattr("rillet.stdlib.formats._any_records", Failing())
    monkeypatch.setattr("rillet.stdlib.formats._any_record", Failing())
    records, _, bad = decode_jsonl([b'{"x": 1}', b'{"boom": 1}'], [0, 9], None)
    assert records == [{"x": 1}]
    assert [(b.offset, b.reason) for b in bad] == [(9, "cannot decode: OverflowError: boom")]


def test_csv_rows_count_data_rows_across_batches() -> None:
    rows = CsvRows(POINT)
    first = rows.decode([["x", "label"], ["1", ""], ["2", "b"]])
    second = rows.decode([[], ["x3", "c"], ["4", "d"]])
    assert first == ([{"x": 1, "label": None}, {"x": 2, "label": "b"}], [1, 2], [])
    records, offsets, bad = second
    assert (records, offsets) == ([{"x": 4, "label": "d"}], [4])
    assert [(b.offset, b.raw) for b in bad] == [(3, "x3,c")]


def test_csv_rows_whose_header_cannot_be_read_leave_every_row_bad() -> None:
    rows = CsvRows(None)
    records, offsets, bad = rows.decode(
        [Unparsed("invalid UTF-8 (byte 1 of the row)", "x\ufffd"), ["1", "2"]]
    )
    assert (records, offsets) == ([], [])
    assert [(b.offset, b.reason) for b in bad] == [
        (0, "the header row: invalid UTF-8 (byte 1 of the row)"),
        (1, "csv row has 2 fields, the header has 0"),
    ]
