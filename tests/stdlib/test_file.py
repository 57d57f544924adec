"""The `file` connector (stdlib/file.py): the source reads jsonl, csv and lines from a path or a
glob (files in name order, each batch naming its file, offsets per file: bytes for jsonl and
lines, data rows from 1 for csv), converts CSV strings under a schema, follows appended data and
new files with `follow=true`; the sink writes jsonl and csv and creates its folder; a missing
input or an unwritable output stops `rillet run` with one clear line and exit code 1.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import msgspec
import pytest

from rillet.runtime import SystemClock, execute
from rillet.runtime.clock import ManualClock
from rillet.runtime.connector import ConnectorError, SinkContext, SourceBatch, SourceContext
from rillet.runtime.failure import StateMismatch
from rillet.runtime.plan import FieldSpec, SchemaSpec, TypeSpec
from rillet.runtime.schema import Schema
from rillet.stdlib.file import FileSource, FileSourceConfig, FileTable, FileTableConfig
from rillet.stdlib.filesink import FileSink, FileSinkConfig
from tests.conftest import compile_pipeline, rillet, run_pipeline
from tests.runtime._collect import CollectSink
from tests.stdlib._source import SourceContract, build


def _context(
    base_dir: Path,
    batch_size: int = 1000,
    schema: Schema | None = None,
    batch_timeout_s: float = 0.2,
) -> SourceContext:
    return SourceContext(
        name="s",
        schema=schema,
        clock=SystemClock(),
        base_dir=base_dir,
        batch_size=batch_size,
        batch_timeout_s=batch_timeout_s,
    )


def read_all(
    base_dir: Path,
    path: str,
    fmt: str = "jsonl",
    batch_size: int = 1000,
    schema: Schema | None = None,
) -> list[SourceBatch]:
    source = FileSource(FileSourceConfig(path, fmt), _context(base_dir, batch_size, schema))

    async def main() -> list[SourceBatch]:
        await source.open()
        batches = []
        try:
            while (batch := await source.read_batch()) is not None:
                batches.append(batch)
        finally:
            await source.aclose()
        return batches

    return anyio.run(main)


def _starts(text: str) -> list[int]:
    """Byte offsets at which the lines of `text` start."""
    starts, at = [], 0
    for line in text.encode().splitlines(keepends=True):
        starts.append(at)
        at += len(line)
    return starts


ORDER = SchemaSpec(
    "Order",
    (
        FieldSpec("id", TypeSpec("int")),
        FieldSpec("amount", TypeSpec("float")),
        FieldSpec("paid", TypeSpec("bool")),
        FieldSpec("note", TypeSpec("str", optional=True)),
        FieldSpec("qty", TypeSpec("int", optional=True)),
    ),
)


# -- source: formats and offsets ---------------------------------------------------------------


def test_jsonl_source_reads_records_with_byte_offsets_of_line_starts(tmp_path: Path, write) -> None:
    text = '{"a": 1}\n{"b": "é"}\n\n{"c": [1, 2]}\r\n{"d": null}'
    write("in.jsonl", text)
    (batch,) = read_all(tmp_path, "in.jsonl")
    assert batch.records == [{"a": 1}, {"b": "é"}, {"c": [1, 2]}, {"d": None}]
    starts = _starts(text)
    assert batch.offsets == [starts[0], starts[1], starts[3], starts[4]]
    assert batch.file == "in.jsonl"
    assert batch.bad == []


def test_jsonl_source_cuts_batches_of_batch_size(tmp_path: Path, write) -> None:
    text = "".join(f'{{"n": {n}}}\n' for n in range(10))
    write("in.jsonl", text)
    batches = read_all(tmp_path, "in.jsonl", batch_size=4)
    assert [len(b) for b in (b.records for b in batches)] == [4, 4, 2]
    assert [o for b in batches for o in b.offsets] == _starts(text)
    assert [r["n"] for b in batches for r in b.records] == list(range(10))


def test_jsonl_source_keeps_one_record_per_line_when_a_line_holds_two(
    tmp_path: Path, write
) -> None:
    text = '{"a": 1}\n{"a": 2}, {"a": 3}\n{"a": 4}\n'
    write("in.jsonl", text)
    (batch,) = read_all(tmp_path, "in.jsonl")
    assert batch.records == [{"a": 1}, {"a": 4}]
    starts = _starts(text)
    assert batch.offsets == [starts[0], starts[2]]
    [bad] = batch.bad
    assert (bad.offset, bad.raw) == (starts[1], '{"a": 2}, {"a": 3}')
    assert bad.reason.startswith("malformed JSON")


def test_jsonl_source_reports_a_string_split_over_two_lines_as_two_bad_lines(
    tmp_path: Path, write
) -> None:
    text = '{"a": "x\ny"}\n{"a": 2}\n'
    write("in.jsonl", text)
    (batch,) = read_all(tmp_path, "in.jsonl")
    assert batch.records == [{"a": 2}]
    assert batch.offsets == [13]
    assert [(b.offset, b.raw) for b in batch.bad] == [(0, '{"a": "x'), (9, 'y"}')]


def test_lines_source_gives_text_without_line_end(tmp_path: Path, write) -> None:
    text = "first\r\nsecond line\n\nlast"
    write("in.txt", text)
    (batch,) = read_all(tmp_path, "in.txt", "lines")
    assert batch.records == [
        {"line": "first"},
        {"line": "second line"},
        {"line": ""},
        {"line": "last"},
    ]
    assert batch.offsets == _starts(text)


def test_csv_source_gives_strings_and_data_row_offsets(tmp_path: Path, write) -> None:
    write("in.csv", 'id,name\n1,"Smith, J"\n2,"two\nlines"\n\n3,\n')
    (batch,) = read_all(tmp_path, "in.csv", "csv")
    assert batch.records == [
        {"id": "1", "name": "Smith, J"},
        {"id": "2", "name": "two\nlines"},
        {"id": "3", "name": ""},
    ]
    assert batch.offsets == [1, 2, 3]


def test_csv_source_with_schema_converts_and_empty_optional_is_null(tmp_path: Path, write) -> None:
    write("in.csv", "id,amount,paid,note,qty,extra\n1,2.5,true,hi,3,x\n2,4,false,,,y\n")
    (batch,) = read_all(tmp_path, "in.csv", "csv", schema=Schema(ORDER))
    assert batch.records == [
        {"id": 1, "amount": 2.5, "paid": True, "note": "hi", "qty": 3},
        {"id": 2, "amount": 4.0, "paid": False, "note": None, "qty": None},
    ]
    assert batch.bad == []


def test_csv_source_with_schema_rejects_empty_required_value(tmp_path: Path, write) -> None:
    write("in.csv", "id,amount,paid\n,1.0,true\n2,x,true\n3,1.0,true\n")
    (batch,) = read_all(tmp_path, "in.csv", "csv", schema=Schema(ORDER))
    assert batch.records == [{"id": 3, "amount": 1.0, "paid": True}]
    assert batch.offsets == [3]
    assert [(b.offset, b.raw) for b in batch.bad] == [(1, ",1.0,true"), (2, "2,x,true")]
    assert batch.bad[0].reason == "schema `Order`: expected `int`, got `str` at `id`"


def test_csv_source_sends_row_of_wrong_width_to_bad(tmp_path: Path, write) -> None:
    write("in.csv", "a,b\n1,2\n3\n4,5,6\n7,8\n")
    (batch,) = read_all(tmp_path, "in.csv", "csv")
    assert batch.records == [{"a": "1", "b": "2"}, {"a": "7", "b": "8"}]
    assert batch.offsets == [1, 4]
    assert [(b.offset, b.raw, b.reason) for b in batch.bad] == [
        (2, "3", "csv row has 1 fields, the header has 2"),
        (3, "4,5,6", "csv row has 3 fields, the header has 2"),
    ]


@pytest.mark.parametrize("chunk", [1, 5, 1 << 20])
def test_csv_source_sends_rows_it_cannot_read_to_bad_with_their_row(
    tmp_path: Path, write, monkeypatch, chunk: int
) -> None:
    big = "x" * 200_000  # past the csv module's field size limit
    (tmp_path / "in.csv").write_bytes(
        b'a,b\n1,\xc3\xa9\n2,caf\xe9\n3,"ok"\n4,' + big.encode() + b'\n5,x"y\n6,"z\n7,q\n'
    )
    monkeypatch.setattr("rillet.stdlib.filereaders.CHUNK_BYTES", chunk)
    batches = read_all(tmp_path, "in.csv", "csv", batch_size=2)
    assert [r for b in batches for r in b.records] == [
        {"a": "1", "b": "é"},
        {"a": "3", "b": "ok"},
        {"a": "7", "b": "q"},
    ]
    assert [o for b in batches for o in b.offsets] == [1, 3, 6]
    assert [(b.offset, b.reason, b.raw[:8]) for batch in batches for b in batch.bad] == [
        (2, "invalid UTF-8 (byte 5 of the row)", "2,caf\ufffd"),
        (4, "malformed CSV: field larger than field limit (131072)", "4,xxxxxx"),
        (
            5,
            "malformed CSV: new-line character seen in unquoted field - do you need to open the "
            "file in universal-newline mode?",
            '5,x"y\n6,',
        ),  # its quote ran on to the next
    ]


@pytest.mark.parametrize("chunk", [1, 3, 7])
def test_source_reads_the_same_whatever_the_read_chunk_size(
    tmp_path: Path, write, monkeypatch, chunk: int
) -> None:
    jsonl = '{"a": "é"}\n\n{"a": 2}\r\n{"a": 3}'
    csv_text = 'a,b\r\n1,"x\r\ny"\r\n2,"say ""hi"""\n3,\n"4",last'
    write("in.jsonl", jsonl)
    write("in.csv", csv_text)
    monkeypatch.setattr("rillet.stdlib.filereaders.CHUNK_BYTES", chunk)
    jsonl_batches = read_all(tmp_path, "in.jsonl", batch_size=2)
    csv_batches = read_all(tmp_path, "in.csv", "csv", batch_size=2)
    assert [r for b in jsonl_batches for r in b.records] == [{"a": "é"}, {"a": 2}, {"a": 3}]
    assert [o for b in jsonl_batches for o in b.offsets] == [0, 13, 23]
    assert [r for b in csv_batches for r in b.records] == [
        {"a": "1", "b": "x\r\ny"},
        {"a": "2", "b": 'say "hi"'},
        {"a": "3", "b": ""},
        {"a": "4", "b": "last"},
    ]
    assert [o for b in csv_batches for o in b.offsets] == [1, 2, 3, 4]


def test_glob_reads_files_in_name_order_with_offsets_per_file(tmp_path: Path, write) -> None:
    write("data/b.jsonl", '{"f": "b", "n": 1}\n{"f": "b", "n": 2}\n')
    write("data/a.jsonl", '{"f": "a", "n": 1}\n')
    write("data/c.jsonl", '{"f": "c", "n": 1}\n{"f": "c", "n": 2}\n{"f": "c", "n": 3}\n')
    write("data/skip.txt", "not matched\n")
    (tmp_path / "data/dir.jsonl").mkdir()
    batches = read_all(tmp_path, "data/*.jsonl", batch_size=2)
    assert [(b.file, [(r["f"], r["n"]) for r in b.records], b.offsets) for b in batches] == [
        ("data/a.jsonl", [("a", 1)], [0]),
        ("data/b.jsonl", [("b", 1), ("b", 2)], [0, 19]),
        ("data/c.jsonl", [("c", 1), ("c", 2)], [0, 19]),
        ("data/c.jsonl", [("c", 3)], [38]),
    ]


def test_glob_of_csv_files_restarts_header_and_rows_per_file(tmp_path: Path, write) -> None:
    write("in/2.csv", "y,x\nb,2\nc,3\n")
    write("in/1.csv", "x,y\n1,a\n")
    batches = read_all(tmp_path, "in/*.csv", "csv")
    assert [(b.file, b.records, b.offsets) for b in batches] == [
        ("in/1.csv", [{"x": "1", "y": "a"}], [1]),
        ("in/2.csv", [{"y": "b", "x": "2"}, {"y": "c", "x": "3"}], [1, 2]),
    ]


def test_pipeline_error_record_names_the_file_of_a_glob(tmp_path: Path, write) -> None:
    write("logs/1.jsonl", '{"a": 1}\n')
    write("logs/2.jsonl", '{"a": 2}\n{"a": 0}\n')
    out, rejects = CollectSink(), CollectSink()
    run_pipeline(
        'source s = file("logs/*.jsonl")\nsink o = file("o.jsonl")\n'
        'sink e = file("e.jsonl")\nerrors into e\ns | derive x = 10 // a | into o\n',
        tmp_path,
        sinks={"o": out, "e": rejects},
    )
    assert out.records == [{"a": 1, "x": 10}, {"a": 2, "x": 5}]
    [error] = rejects.records
    assert (error["file"], error["offset"], error["raw"]) == ("logs/2.jsonl", 9, {"a": 0})


def test_run_sends_a_line_nested_too_deeply_to_the_error_sink(tmp_path: Path, write) -> None:
    deep = '{"a": ' + "[" * 5000 + "]" * 5000 + "}"
    write("in.jsonl", f'{{"n": 1}}\n{deep}\n{{"n": 2}}\n')
    write(
        "p.rill",
        'source s = file("in.jsonl")\nsink o = file("o.jsonl")\n'
        'sink e = file("e.jsonl")\nerrors into e\ns | into o\n',
    )
    result = rillet("run", "-q", "p.rill", cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    assert (tmp_path / "o.jsonl").read_text() == '{"n":1}\n{"n":2}\n'
    [error] = map(msgspec.json.decode, (tmp_path / "e.jsonl").read_bytes().splitlines())
    assert (error["reason"], error["offset"], error["raw"]) == ("JSON nested too deeply", 9, deep)


# -- source: missing input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("missing.jsonl", "source `s`: no such file: missing.jsonl"),
        ("none/*.jsonl", "source `s`: no file matches: none/*.jsonl"),
    ],
)
def test_source_open_fails_when_input_is_missing(tmp_path: Path, path: str, message: str) -> None:
    source = FileSource(FileSourceConfig(path), _context(tmp_path))
    with pytest.raises(ConnectorError) as raised:
        anyio.run(source.open)
    assert str(raised.value) == f"{message} (resolved against {tmp_path})"


def test_missing_absolute_input_names_only_its_path(tmp_path: Path) -> None:
    path = str(tmp_path / "missing.jsonl")
    source = FileSource(FileSourceConfig(path), _context(tmp_path / "elsewhere"))
    with pytest.raises(ConnectorError) as raised:
        anyio.run(source.open)
    assert str(raised.value) == f"source `s`: no such file: {path}"


def test_run_with_missing_input_prints_one_line_and_exits_1(tmp_path: Path, write) -> None:
    write(
        "p.rill", 'source s = file("data/nope.jsonl")\nsink o = file("out/o.jsonl")\ns | into o\n'
    )
    result = rillet("run", "p.rill", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.decode() == (
        f"rillet: error: source `s`: no such file: data/nope.jsonl (resolved against "
        f"{tmp_path.resolve()})\n"
    )


# -- source: resuming --------------------------------------------------------------------------


def _resumed(base_dir: Path, path: str, fmt: str, position: dict) -> list[dict]:
    """What a source resumed at `position` reads."""
    source = FileSource(FileSourceConfig(path, fmt), _context(base_dir))

    async def main() -> list[dict]:
        await source.open()
        try:
            source.seek(position)
            records = []
            while (batch := await source.read_batch()) is not None:
                records += batch.records
            return records
        finally:
            await source.aclose()

    return anyio.run(main)


@pytest.mark.parametrize(
    ("fmt", "text", "offset"),
    [
        ("jsonl", '{"n": 1}\n{"n": 2}\n', 9),
        ("csv", "n\n1\n2", 1),  # the last row has no newline: it counts once the file ends
    ],
)
def test_source_resumes_at_its_offset(
    tmp_path: Path, write, fmt: str, text: str, offset: int
) -> None:
    write("in", text)
    assert _resumed(tmp_path, "in", fmt, {"done": [], "current": ["in", offset]}) == [
        {"n": 2 if fmt == "jsonl" else "2"}
    ]
    assert _resumed(tmp_path, "in", fmt, {"done": [], "current": ["in", 2 * offset]}) == []


@pytest.mark.parametrize(
    ("fmt", "text", "offset", "holds"),
    [
        ("jsonl", '{"n": 9}\n', 18, "9 bytes, fewer than the 18 bytes"),
        ("jsonl", "", 18, "0 bytes, fewer than the 18 bytes"),
        ("csv", "n\n9\n", 3, "1 data row, fewer than the 3 data rows"),
    ],
)
def test_source_refuses_to_resume_in_a_file_cut_below_its_offset(
    tmp_path: Path, write, fmt: str, text: str, offset: int, holds: str
) -> None:
    write("data/in", text)
    with pytest.raises(ConnectorError) as raised:
        _resumed(tmp_path, "data/in", fmt, {"done": [], "current": ["data/in", offset]})
    assert str(raised.value) == (
        f"source `s`: cannot resume: data/in holds {holds} read before the checkpoint being "
        "resumed (it was cut or replaced since); run with --fresh to read it again from the "
        "start"
    )


# -- source: follow ----------------------------------------------------------------------------


STEP_S = 0.01
"""How far the tests move a followed run's manual clock at a time: below the file source's
poll interval and every batch timeout, so every poll and every timeout happens in order."""


async def until(clock: ManualClock, done: Callable[[], bool]) -> None:
    """Move the run's clock a step at a time, each time letting every task run until it waits
    again, until `done()`: polls and batch timeouts come in order, without sleeping."""
    with anyio.fail_after(20):  # a guard against hanging, not a timing assertion
        while not done():
            clock.advance(STEP_S)
            await anyio.wait_all_tasks_blocked()


async def steps(clock: ManualClock, count: int) -> None:
    """`count` steps of the run's clock (a followed file polled again and again meanwhile)."""
    for _ in range(count):
        clock.advance(STEP_S)
        await anyio.wait_all_tasks_blocked()


def has(sink: CollectSink, count: int) -> Callable[[], bool]:
    return lambda: len(sink.records) >= count


def test_follow_reads_appended_lines_and_new_files(tmp_path: Path, write) -> None:
    first = write("logs/a.jsonl", '{"n": 1}\n{"n": 2}\n')
    compiled = compile_pipeline(
        'set batch_timeout = 20ms\nsource s = file("logs/*.jsonl", follow=true)\n'
        'sink o = file("o.jsonl")\ns | derive m = n * 10 | into o\n',
        tmp_path,
    )
    assert compiled.plan is not None and compiled.checked is not None
    plan, registry = compiled.plan, compiled.checked.registry
    sink, clock = CollectSink(), ManualClock()

    async def writer() -> None:
        await until(clock, has(sink, 2))
        with first.open("a") as f:
            f.write('{"n": 3}\n{"n": ')
        await steps(clock, 15)  # the source polls meanwhile; half a line must wait
        with first.open("a") as f:
            f.write("4}\n")
        await until(clock, has(sink, 4))
        write("logs/b.jsonl", '{"n": 5}\n')
        await until(clock, has(sink, 5))
        with (tmp_path / "logs/b.jsonl").open("a") as f:
            f.write('{"n": 6}\n')
        await until(clock, has(sink, 6))

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: execute(plan, registry, sinks={"o": sink}, clock=clock))
            await writer()
            tg.cancel_scope.cancel()

    anyio.run(main)
    assert sink.records == [{"n": n, "m": n * 10} for n in (1, 2, 3, 4, 5, 6)]


def test_follow_hands_on_what_is_there_without_waiting_for_batch_timeout(
    tmp_path: Path, write
) -> None:
    data = write("in.jsonl", '{"n": 1}\n{"n": 2}\n')
    compiled = compile_pipeline(
        'set batch_timeout = 60s\nsource s = file("in.jsonl", follow=true)\n'
        'sink o = file("o.jsonl")\ns | into o\n',
        tmp_path,
    )
    assert compiled.plan is not None and compiled.checked is not None
    plan, registry = compiled.plan, compiled.checked.registry
    sink, clock = CollectSink(), ManualClock()

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: execute(plan, registry, sinks={"o": sink}, clock=clock))
            await until(clock, has(sink, 2))
            with data.open("a") as f:
                f.write('{"n": 3}\n')
            await until(clock, has(sink, 3))
            tg.cancel_scope.cancel()

    anyio.run(main)
    assert sink.records == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert clock.monotonic_s() < 1  # far from the 60 s a batch may wait at most


def test_follow_starts_with_no_matching_file_and_waits(tmp_path: Path, write) -> None:
    compiled = compile_pipeline(
        'set batch_timeout = 10ms\nsource s = file("in/*.csv", format="csv", follow=true)\n'
        'sink o = file("o.jsonl")\ns | into o\n',
        tmp_path,
    )
    assert compiled.plan is not None and compiled.checked is not None
    plan, registry = compiled.plan, compiled.checked.registry
    sink, clock = CollectSink(), ManualClock()

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: execute(plan, registry, sinks={"o": sink}, clock=clock))
            await steps(clock, 10)  # the source looks for a file again and again
            write("in/x.csv", "k,v\na,1\nb,2\n")
            await until(clock, has(sink, 2))
            tg.cancel_scope.cancel()

    anyio.run(main)
    assert sink.records == [{"k": "a", "v": "1"}, {"k": "b", "v": "2"}]


def test_follow_csv_waits_for_whole_rows(tmp_path: Path, write) -> None:
    data = write("in.csv", "a,b\n1,x\n")
    compiled = compile_pipeline(
        'set batch_timeout = 10ms\nsource s = file("in.csv", format="csv", follow=true)\n'
        'sink o = file("o.jsonl")\ns | into o\n',
        tmp_path,
    )
    assert compiled.plan is not None and compiled.checked is not None
    plan, registry = compiled.plan, compiled.checked.registry
    sink, clock = CollectSink(), ManualClock()

    async def append(*parts: str) -> None:
        for part in parts:
            with data.open("a") as f:
                f.write(part)
            await steps(clock, 10)  # the source polls meanwhile; a part row must wait

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: execute(plan, registry, sinks={"o": sink}, clock=clock))
            await until(clock, has(sink, 1))
            await append("2,", 'y\n3,"multi', "\nline", '"\n')
            await until(clock, has(sink, 3))
            tg.cancel_scope.cancel()

    anyio.run(main)
    assert sink.records == [
        {"a": "1", "b": "x"},
        {"a": "2", "b": "y"},
        {"a": "3", "b": "multi\nline"},
    ]


# -- sink --------------------------------------------------------------------------------------


def _write_sink(base_dir: Path, path: str, fmt: str, batches: list[list[dict]]) -> None:
    sink = FileSink(FileSinkConfig(path, fmt), SinkContext("o", base_dir))

    async def main() -> None:
        await sink.open()
        try:
            for batch in batches:
                await sink.write(batch)
        finally:
            await sink.aclose()

    anyio.run(main)


def test_jsonl_sink_writes_one_record_per_line_creating_folders(tmp_path: Path) -> None:
    records = [{"a": 1, "b": None}, {"c": [1, {"d": "é"}], "t": True}]
    _write_sink(tmp_path, "deep/er/out.jsonl", "jsonl", [records[:1], [], records[1:]])
    data = (tmp_path / "deep/er/out.jsonl").read_bytes()
    assert [msgspec.json.decode(line) for line in data.splitlines()] == records
    assert data.endswith(b"\n")


def test_csv_sink_writes_header_of_first_record_and_plain_values(tmp_path: Path) -> None:
    _write_sink(
        tmp_path,
        "out/o.csv",
        "csv",
        [
            [{"a": 1, "b": "x, y", "c": True}],
            [{"a": None, "b": "z", "c": False, "extra": 1}, {"b": [1, 2], "c": {"k": "v"}}],
        ],
    )
    assert (tmp_path / "out/o.csv").read_text() == (
        'a,b,c\n1,"x, y",true\n,z,false\n,"[1,2]","{""k"":""v""}"\n'
    )


def test_sink_truncates_an_existing_file(tmp_path: Path, write) -> None:
    write("o.jsonl", '{"old": 1}\n{"old": 2}\n')
    _write_sink(tmp_path, "o.jsonl", "jsonl", [[{"new": 1}]])
    assert (tmp_path / "o.jsonl").read_text() == '{"new":1}\n'


def _session(
    base_dir: Path, path: str, batches: list[list[dict]], committed: dict | None = None
) -> dict:
    """One run of a sink: resumed at `committed` when given; returns its last `precommit`."""
    sink = FileSink(FileSinkConfig(path), SinkContext("o", base_dir))

    async def main() -> dict:
        if committed is not None:
            sink.restore(committed)
        await sink.open()
        try:
            for batch in batches:
                await sink.write(batch)
            return await sink.precommit()
        finally:
            await sink.aclose()

    return anyio.run(main)


def test_resumed_sink_cuts_back_what_came_after_the_checkpoint(tmp_path: Path) -> None:
    committed = _session(tmp_path, "o.jsonl", [[{"n": 1}]])
    with (tmp_path / "o.jsonl").open("a") as f:
        f.write('{"uncommitted": 1}\n')
    _session(tmp_path, "o.jsonl", [[{"n": 2}]], committed)
    assert (tmp_path / "o.jsonl").read_text() == '{"n":1}\n{"n":2}\n'


def test_sink_lines_are_readable_before_the_checkpoint_and_cut_back_on_resume(
    tmp_path: Path,
) -> None:
    out = tmp_path / "o.jsonl"
    sink = FileSink(FileSinkConfig("o.jsonl"), SinkContext("o", tmp_path))

    async def crashed_run() -> tuple[dict, bytes]:
        await sink.open()
        try:
            await sink.write([{"n": 1}])
            committed = await sink.precommit()
            await sink.write([{"n": 2}])
            return committed, out.read_bytes()  # as a reader of the file sees it meanwhile
        finally:
            await sink.aclose()  # no checkpoint after {"n": 2}

    committed, seen = anyio.run(crashed_run)
    assert seen == b'{"n":1}\n{"n":2}\n'
    _session(tmp_path, "o.jsonl", [[{"n": 3}]], committed)
    assert out.read_text() == '{"n":1}\n{"n":3}\n'


@pytest.mark.parametrize("change", ["emptied", "deleted", "replaced"])
def test_resumed_sink_refuses_a_file_that_lost_what_was_committed(
    tmp_path: Path, change: str
) -> None:
    committed = _session(tmp_path, "o.jsonl", [[{"n": 1}, {"n": 2}]])
    out = tmp_path / "o.jsonl"
    if change == "emptied":
        out.write_bytes(b"")
    elif change == "deleted":
        out.unlink()
    else:  # as long, or longer, but not what was written
        out.write_text('{"n":7}\n{"n":8}\n{"more":1}\n')
    before = out.read_bytes() if out.exists() else None
    with pytest.raises(ConnectorError) as raised:
        _session(tmp_path, "o.jsonl", [[{"n": 3}]], committed)
    message = str(raised.value)
    assert message.startswith("sink `o`: cannot resume: o.jsonl ")
    assert "--fresh" in message and "\n" not in message
    assert (out.read_bytes() if out.exists() else None) == before  # never padded nor created


def test_resumed_sink_checks_only_the_length_of_a_checkpoint_without_a_checksum(
    tmp_path: Path,
) -> None:
    _session(tmp_path, "o.jsonl", [[{"n": 1}]])
    (tmp_path / "o.jsonl").write_text('{"n":9}\n')  # same length: cannot be told apart
    _session(tmp_path, "o.jsonl", [[{"n": 2}]], {"length": 8, "header": None})
    assert (tmp_path / "o.jsonl").read_text() == '{"n":9}\n{"n":2}\n'
    with pytest.raises(ConnectorError, match="holds 16 bytes, fewer than the 40 committed"):
        _session(tmp_path, "o.jsonl", [], {"length": 40, "header": None})


def test_resumed_sink_whose_path_changed_stops_before_writing_anything(tmp_path: Path) -> None:
    committed = _session(tmp_path, "out/a.jsonl", [[{"n": 1}]])
    assert committed["path"] == "out/a.jsonl"
    with pytest.raises(StateMismatch) as raised:
        _session(tmp_path, "out/b.jsonl", [[{"n": 2}]], committed)
    assert str(raised.value) == (
        "sink `o` wrote to out/a.jsonl up to the checkpoint being resumed, the pipeline now names "
        "out/b.jsonl; run with --fresh to write out/b.jsonl from the start, or put the path back"
    )
    assert not (tmp_path / "out/b.jsonl").exists()
    _session(tmp_path, "out/./a.jsonl", [[{"n": 2}]], committed)  # the same file, written apart
    assert (tmp_path / "out/a.jsonl").read_text() == '{"n":1}\n{"n":2}\n'


def test_sink_refuses_a_file_another_sink_holds_open_and_leaves_it_untouched(
    tmp_path: Path,
) -> None:
    first = FileSink(FileSinkConfig("o.jsonl"), SinkContext("a", tmp_path))
    second = FileSink(FileSinkConfig("./o.jsonl"), SinkContext("b", tmp_path))

    async def main() -> None:
        await first.open()
        try:
            await first.write([{"n": 1}])
            await first.precommit()
            with pytest.raises(ConnectorError) as raised:
                await second.open()
            assert str(raised.value) == (
                "sink `b`: o.jsonl is being written by another run (of this pipeline or another);"
                " stop that run, or give each pipeline a file of its own"
            )
        finally:
            await first.aclose()

    anyio.run(main)
    assert (tmp_path / "o.jsonl").read_text() == '{"n":1}\n'
    _write_sink(tmp_path, "o.jsonl", "jsonl", [[{"n": 2}]])  # free again once closed
    assert (tmp_path / "o.jsonl").read_text() == '{"n":2}\n'


def test_sink_open_fails_when_a_parent_is_a_file(tmp_path: Path, write) -> None:
    write("blocker", "")
    sink = FileSink(FileSinkConfig("blocker/sub/o.jsonl"), SinkContext("o", tmp_path))
    with pytest.raises(ConnectorError) as raised:
        anyio.run(sink.open)
    assert str(raised.value) == (
        "sink `o`: cannot write blocker/sub/o.jsonl: blocker is a file, not a folder"
    )


def test_run_with_unwritable_output_prints_one_line_and_exits_1(tmp_path: Path, write) -> None:
    write("in.jsonl", '{"a": 1}\n')
    write("out", "a file where a folder should be\n")
    write("p.rill", 'source s = file("in.jsonl")\nsink o = file("out/o.jsonl")\ns | into o\n')
    result = rillet("run", "p.rill", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.decode() == (
        "rillet: error: sink `o`: cannot write out/o.jsonl: out is a file, not a folder\n"
    )


def test_second_pipeline_writing_a_file_in_use_stops_with_one_line(tmp_path: Path, write) -> None:
    write("in.jsonl", '{"n": 1}\n')
    write(
        "a.rill",
        'source s = file("in.jsonl", follow=true)\nsink o = file("out/o.jsonl")\ns | into o\n',
    )
    write(
        "b.rill",
        'source s = file("in.jsonl")\nsink mine = file("out/o.jsonl")\n'
        "s | derive b = true | into mine\n",
    )
    output = tmp_path / "out" / "o.jsonl"
    following = subprocess.Popen(
        [sys.executable, "-m", "rillet.dsl.cli", "run", "-q", "a.rill"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not (output.exists() and output.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.05)
        second = rillet("run", "-q", "b.rill", cwd=tmp_path)
        assert second.returncode == 1
        assert second.stderr.decode() == (
            "rillet: error: sink `mine`: out/o.jsonl is being written by another run (of this "
            "pipeline or another); stop that run, or give each pipeline a file of its own\n"
        )
        assert output.read_text() == '{"n":1}\n'
    finally:
        following.send_signal(signal.SIGTERM)
        following.communicate(timeout=60)
    assert following.returncode == 143
    assert output.read_text() == '{"n":1}\n'


def test_run_writes_outputs_relative_to_the_pipeline_file(tmp_path: Path, write) -> None:
    write("proj/data/in.csv", "a,b\n1,x\n2,y\n")
    write(
        "proj/p.rill",
        'source s = file("data/in.csv", format="csv")\n'
        'sink o = file("out/new/o.csv", format="csv")\n'
        "s | select b, a | into o\n",
    )
    result = rillet("run", "proj/p.rill", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "proj/out/new/o.csv").read_text() == "b,a\nx,1\ny,2\n"


# -- table -------------------------------------------------------------------------------------


def test_table_loads_rows_by_key_last_one_wins(tmp_path: Path, write) -> None:
    write("users.csv", "user,name\n1,ann\n2,bob\n1,anne\n")
    table = FileTable(FileTableConfig("users.csv", "csv", key="user"), _context(tmp_path, 2))
    rows = anyio.run(table.load)
    assert rows == {"1": {"user": "1", "name": "anne"}, "2": {"user": "2", "name": "bob"}}


def test_csv_byte_order_mark_is_not_part_of_the_first_field(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_bytes("\ufeffname,n\nada,1\n".encode())
    out = CollectSink()
    run_pipeline(
        'source s = file("in.csv", format="csv")\nsink o = stdout()\ns | into o\n',
        tmp_path,
        sinks={"o": out},
    )
    assert out.records == [{"name": "ada", "n": "1"}]


def test_jsonl_byte_order_mark_does_not_reject_the_first_record(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_bytes(b'\xef\xbb\xbf{"a": 1}\n{"a": 2}\n')
    (batch,) = read_all(tmp_path, "in.jsonl")
    assert (batch.records, list(batch.offsets), batch.bad) == ([{"a": 1}, {"a": 2}], [0, 12], [])


# -- the source contract (_source.py) ----------------------------------------------------------


class JsonlInput:
    name, bounded, group = "file", True, False

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir

    def fill(self, records: list[dict]) -> None:
        text = "".join(msgspec.json.encode(r).decode() + "\n" for r in records)
        (self.base_dir / "in.jsonl").write_text(text)

    def source(self) -> FileSource:
        return build("file", {"path": "in.jsonl", "format": "jsonl"}, base_dir=self.base_dir)


class TestFileSourceContract(SourceContract):
    @pytest.fixture
    def input(self, tmp_path: Path) -> JsonlInput:
        return JsonlInput(tmp_path)
