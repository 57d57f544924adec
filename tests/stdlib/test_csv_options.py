"""CSV options of the `file` connector: `delimiter=` (source, sink, table) and `header=` (a
source or table without a header row names its fields from the schema in order, or c1, c2, ...
without one; a sink with `header=false` writes no header row), and `rillet check` catching an
option that cannot work."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from rillet.runtime.connector import SourceBatch
from rillet.runtime.plan import FieldSpec, SchemaSpec, TypeSpec
from rillet.runtime.schema import Schema
from rillet.stdlib.file import FileSource, FileSourceConfig, FileTable, FileTableConfig
from tests.conftest import compile_pipeline, rillet, run_pipeline
from tests.stdlib.test_file import _context

ORDER = SchemaSpec(
    "Order",
    (
        FieldSpec("id", TypeSpec("int")),
        FieldSpec("amount", TypeSpec("float")),
        FieldSpec("note", TypeSpec("str", optional=True)),
    ),
)


def read(
    tmp_path: Path,
    text: str,
    schema: SchemaSpec | None = None,
    position: dict | None = None,
    **options,
) -> list[SourceBatch]:
    (tmp_path / "in.csv").write_text(text)
    source = FileSource(
        FileSourceConfig("in.csv", "csv", **options),
        _context(tmp_path, schema=Schema(schema) if schema else None),
    )

    async def main() -> list[SourceBatch]:
        await source.open()
        try:
            if position is not None:
                source.seek(position)
            batches = []
            while (batch := await source.read_batch()) is not None:
                batches.append(batch)
            return batches
        finally:
            await source.aclose()

    return anyio.run(main)


def records(batches: list[SourceBatch]) -> list[dict]:
    return [r for b in batches for r in b.records]


def bad(batches: list[SourceBatch]) -> list[tuple[int, str, str]]:
    return [(b.offset, b.reason, b.raw) for batch in batches for b in batch.bad]


def test_semicolon_delimiter_with_quoted_semicolons_and_newlines(tmp_path: Path) -> None:
    batches = read(tmp_path, 'id;note\n1;"a;b"\n2;"c\nd"\n3;plain,comma\n', delimiter=";")
    assert records(batches) == [
        {"id": "1", "note": "a;b"},
        {"id": "2", "note": "c\nd"},
        {"id": "3", "note": "plain,comma"},
    ]
    assert [o for b in batches for o in b.offsets] == [1, 2, 3]


def test_a_bad_row_is_shown_with_its_delimiter(tmp_path: Path) -> None:
    batches = read(tmp_path, "id;note\n1;a;extra\n", delimiter=";")
    assert bad(batches) == [(1, "csv row has 3 fields, the header has 2", "1;a;extra")]


def test_without_a_header_fields_come_from_the_schema_in_order(tmp_path: Path) -> None:
    batches = read(tmp_path, "1,2.5,\n2,3,x\n3,1\n", ORDER, header=False)
    assert records(batches) == [
        {"id": 1, "amount": 2.5, "note": None},
        {"id": 2, "amount": 3.0, "note": "x"},
    ]
    assert [o for b in batches for o in b.offsets] == [1, 2]  # the first row is row 1
    assert bad(batches) == [(3, "csv row has 2 fields, the schema has 3", "3,1")]


def test_without_a_header_or_schema_fields_are_c1_c2_by_position(tmp_path: Path) -> None:
    batches = read(tmp_path, "a\tb\nc\td\te\n", header=False, delimiter="\t")
    assert records(batches) == [{"c1": "a", "c2": "b"}, {"c1": "c", "c2": "d", "c3": "e"}]


def test_without_a_header_a_resumed_run_skips_the_rows_read(tmp_path: Path) -> None:
    batches = read(
        tmp_path, "1,a\n2,b\n3,c\n", header=False, position={"done": [], "current": ["in.csv", 2]}
    )
    assert records(batches) == [{"c1": "3", "c2": "c"}]


def test_table_reads_a_headerless_semicolon_file(tmp_path: Path) -> None:
    (tmp_path / "users.csv").write_text("1;ann\n2;bob\n")
    table = FileTable(
        FileTableConfig("users.csv", "csv", key="c1", delimiter=";", header=False),
        _context(tmp_path),
    )
    assert anyio.run(table.load) == {"1": {"c1": "1", "c2": "ann"}, "2": {"c1": "2", "c2": "bob"}}


def test_sink_writes_its_delimiter_and_no_header_row_when_told(tmp_path: Path, write) -> None:
    write("in.jsonl", '{"a": 1, "b": "x;y"}\n{"a": 2, "b": null}\n')
    run_pipeline(
        'source s = file("in.jsonl")\n'
        'sink o = file("o.csv", format="csv", delimiter=";", header=false)\n'
        'sink h = file("h.csv", format="csv", delimiter="\\t")\n'
        "s | into o\ns | into h\n",
        tmp_path,
    )
    assert (tmp_path / "o.csv").read_text() == '1;"x;y"\n2;\n'
    assert (tmp_path / "h.csv").read_text() == "a\tb\n1\tx;y\n2\t\n"


def test_a_headerless_file_written_then_read_back_with_a_schema(tmp_path: Path, write) -> None:
    write("in.jsonl", '{"id": 1, "amount": 2.5, "note": "a;b"}\n{"id": 2, "amount": 1.0}\n')
    (tmp_path / "p.rill").write_text(
        "schema Order { id: int, amount: float, note: str? }\n"
        'source s: Order = file("in.jsonl")\n'
        'sink o = file("o.csv", format="csv", delimiter=";", header=false)\n'
        "s | into o\n"
    )
    (tmp_path / "q.rill").write_text(
        "schema Order { id: int, amount: float, note: str? }\n"
        'source s: Order = file("o.csv", format="csv", delimiter=";", header=false)\n'
        'sink o = file("back.jsonl")\n'
        "s | into o\n"
    )
    assert rillet("run", "-q", "p.rill", cwd=tmp_path).returncode == 0
    assert rillet("run", "-q", "q.rill", cwd=tmp_path).returncode == 0
    assert (tmp_path / "back.jsonl").read_text() == (
        '{"id":1,"amount":2.5,"note":"a;b"}\n{"id":2,"amount":1.0,"note":null}\n'
    )


@pytest.mark.parametrize(
    ("args", "key", "label"),
    [
        (
            '"in.csv", format="csv", delimiter=";;"',
            "delimiter",
            'a delimiter is one character, other than `"` and line ends',
        ),
        (
            '"in.csv", format="csv", delimiter="\\""',
            "delimiter",
            'a delimiter is one character, other than `"` and line ends',
        ),
        ('"in.jsonl", header=false', "header", '`header` applies to format="csv" only'),
        ('"in.jsonl", delimiter=";"', "delimiter", '`delimiter` applies to format="csv" only'),
    ],
)
def test_check_reports_csv_options_that_cannot_work(
    tmp_path: Path, args: str, key: str, label: str
) -> None:
    compiled = compile_pipeline(
        f'source s = file({args})\nsink o = file("o.jsonl")\ns | into o\n', tmp_path
    )
    assert [(d.code, d.message, d.label) for d in compiled.diagnostics] == [
        ("E0406", f"invalid argument `{key}` for `file`", label)
    ]
