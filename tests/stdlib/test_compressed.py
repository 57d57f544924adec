"""Compressed input to the `file` source (stdlib/compressed.py): gzip and zstd files, by their
extension or `compression=`, read as the text they hold, with offsets in uncompressed bytes;
concatenated members; a resumed run decompressing again up to its offset; a followed file
growing by whole members; and a clear line, never a traceback, for a file that is cut short,
is not what its name says, or needs the zstd extra that is not installed."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
import zstandard

from rillet.runtime import execute
from rillet.runtime.clock import ManualClock
from rillet.runtime.connector import ConnectorError, SourceBatch
from rillet.stdlib.file import FileSource, FileSourceConfig
from tests.conftest import compile_pipeline, rillet
from tests.runtime._collect import CollectSink
from tests.stdlib.test_file import _context, _starts, has, steps, until

TEXT = '{"n": 1, "s": "é"}\n{"n": 2}\n\n{"n": 3}\n'
CSV = 'n,s\n1,a\n2,"b\nc"\n3,d\n'


def gz(text: str) -> bytes:
    return gzip.compress(text.encode())


def zst(text: str) -> bytes:
    return zstandard.ZstdCompressor().compress(text.encode())


def read(
    tmp_path: Path,
    path: str,
    fmt: str = "jsonl",
    compression: str = "auto",
    position: dict | None = None,
    batch_size: int = 1000,
) -> list[SourceBatch]:
    source = FileSource(
        FileSourceConfig(path, fmt, compression=compression), _context(tmp_path, batch_size)
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


def offsets(batches: list[SourceBatch]) -> list[int]:
    return [o for b in batches for o in b.offsets]


@pytest.mark.parametrize(
    ("name", "pack"), [("in.jsonl.gz", gz), ("in.jsonl.zst", zst), ("in.jsonl.GZ", gz)]
)
def test_compressed_jsonl_reads_as_the_plain_file_with_uncompressed_offsets(
    tmp_path: Path, name: str, pack
) -> None:
    (tmp_path / name).write_bytes(pack(TEXT))
    (tmp_path / "in.jsonl").write_text(TEXT)
    batches = read(tmp_path, name, batch_size=2)
    assert records(batches) == records(read(tmp_path, "in.jsonl"))
    assert records(batches) == [{"n": 1, "s": "é"}, {"n": 2}, {"n": 3}]
    starts = _starts(TEXT)
    assert offsets(batches) == [starts[0], starts[1], starts[3]]
    assert {b.file for b in batches} == {name}


@pytest.mark.parametrize("pack", [gz, zst])
def test_compressed_csv_reads_rows_with_quoted_newlines(tmp_path: Path, pack) -> None:
    (tmp_path / "in.csv.x").write_bytes(pack(CSV))
    compression = "gzip" if pack is gz else "zstd"
    batches = read(tmp_path, "in.csv.x", "csv", compression=compression)
    assert records(batches) == [{"n": "1", "s": "a"}, {"n": "2", "s": "b\nc"}, {"n": "3", "s": "d"}]
    assert offsets(batches) == [1, 2, 3]


@pytest.mark.parametrize("pack", [gz, zst])
def test_concatenated_members_read_as_one_stream(tmp_path: Path, pack) -> None:
    (tmp_path / "in.jsonl.gz").write_bytes(pack('{"n": 1}\n{"n"') + pack(": 2}\n") + pack(""))
    compression = "gzip" if pack is gz else "zstd"
    assert records(read(tmp_path, "in.jsonl.gz", compression=compression)) == [{"n": 1}, {"n": 2}]


def test_zero_padding_after_a_gzip_member_is_skipped_as_gzip_skips_it(tmp_path: Path) -> None:
    (tmp_path / "in.gz").write_bytes(gz('{"n": 1}\n') + b"\0" * 10 + gz('{"n": 2}\n') + b"\0")
    assert records(read(tmp_path, "in.gz")) == [{"n": 1}, {"n": 2}]


def test_compression_none_reads_a_gz_named_file_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "in.gz").write_text('{"n": 1}\n')
    assert records(read(tmp_path, "in.gz", compression="none")) == [{"n": 1}]


def test_a_long_compressed_file_reads_whole_across_chunks(tmp_path: Path) -> None:
    text = "".join(f'{{"n": {n}, "pad": "{"x" * (n % 50)}"}}\n' for n in range(60_000))
    (tmp_path / "in.jsonl.gz").write_bytes(gz(text))
    batches = read(tmp_path, "in.jsonl.gz")
    assert [r["n"] for r in records(batches)] == list(range(60_000))
    assert offsets(batches) == _starts(text)


@pytest.mark.parametrize(
    ("fmt", "text", "offset", "rest"),
    [
        ("jsonl", TEXT, _starts(TEXT)[3], [{"n": 3}]),
        ("jsonl", TEXT, 0, [{"n": 1, "s": "é"}, {"n": 2}, {"n": 3}]),
        ("csv", CSV, 2, [{"n": "3", "s": "d"}]),
    ],
)
def test_resuming_decompresses_again_up_to_the_offset(
    tmp_path: Path, fmt: str, text: str, offset: int, rest: list[dict]
) -> None:
    (tmp_path / "in.gz").write_bytes(gz(text))
    position = {"done": [], "current": ["in.gz", offset]}
    assert records(read(tmp_path, "in.gz", fmt, position=position)) == rest


def test_resuming_in_a_compressed_file_cut_below_the_offset_names_uncompressed_bytes(
    tmp_path: Path,
) -> None:
    (tmp_path / "in.gz").write_bytes(gz('{"n": 1}\n'))
    with pytest.raises(ConnectorError) as raised:
        read(tmp_path, "in.gz", position={"done": [], "current": ["in.gz", 20]})
    assert "in.gz holds 9 uncompressed bytes, fewer than the 20 uncompressed bytes" in str(
        raised.value
    )


def _run(tmp_path: Path, source: str, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "p.rill").write_text(
        f'source s = {source}\nsink o = file("out.jsonl")\ns | into o\n'
    )
    return rillet("run", "p.rill", *args, cwd=tmp_path)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            gz(TEXT)[:-12],
            "the file ends inside a gzip member (it was cut short, or is still being written)",
        ),
        (
            zst(TEXT)[:-3],
            "the file ends inside a zstd frame (it was cut short, or is still being written)",
        ),
        (
            b'{"n": 1}\n',
            "not valid gzip data (Error -3 while decompressing data: incorrect header "
            'check); compression="none" reads the file as it is',
        ),
    ],
)
def test_a_cut_or_mislabelled_file_stops_the_run_with_one_line(
    tmp_path: Path, data: bytes, reason: str
) -> None:
    name = "in.jsonl.zst" if "zstd" in reason else "in.jsonl.gz"
    (tmp_path / name).write_bytes(data)
    result = _run(tmp_path, f'file("{name}")', "-q")
    assert result.returncode == 1
    assert result.stderr.decode().splitlines() == [
        f"rillet: error: source `s`: cannot read {name}: {reason}"
    ]


def test_a_finished_run_reads_only_the_members_appended_since(tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl.gz"
    data.write_bytes(gz('{"n": 1}\n{"n": 2}\n'))
    assert _run(tmp_path, 'file("in.jsonl.gz")', "-q").returncode == 0
    with data.open("ab") as f:
        f.write(gz('{"n": 3}\n'))
    result = rillet("run", "p.rill", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "read            1" in result.stderr.decode()
    assert (tmp_path / "out.jsonl").read_text() == '{"n":1}\n{"n":2}\n{"n":3}\n'


def test_follow_reads_members_appended_to_a_gzip_file(tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl.gz"
    data.write_bytes(gz('{"n": 1}\n'))
    compiled = compile_pipeline(
        "set batch_timeout = 20ms\n"
        'source s = file("in.jsonl.gz", follow=true)\n'
        'sink o = file("o.jsonl")\ns | into o\n',
        tmp_path,
    )
    assert compiled.plan is not None and compiled.checked is not None
    plan, registry = compiled.plan, compiled.checked.registry
    sink, clock = CollectSink(), ManualClock()
    member = gz('{"n": 2}\n{"n": 3}\n')

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: execute(plan, registry, sinks={"o": sink}, clock=clock))
            await until(clock, has(sink, 1))
            with data.open("ab") as f:  # half a member: its lines wait for the rest
                f.write(member[: len(member) // 2])
            await steps(clock, 15)
            with data.open("ab") as f:
                f.write(member[len(member) // 2 :])
            await until(clock, has(sink, 3))
            tg.cancel_scope.cancel()

    anyio.run(main)
    assert sink.records == [{"n": 1}, {"n": 2}, {"n": 3}]


WITHOUT_ZSTD = (
    "import sys; sys.modules['zstandard'] = sys.modules['compression.zstd'] = None;"
    "from rillet.dsl.cli import main; sys.exit(main(sys.argv[1:]))"
)


def _without_zstd(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """`rillet` in a Python where neither zstd module can be imported (as without the extra):
    `sys.modules[name] = None` makes `import name` fail with ImportError."""
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_ZSTD, *args], cwd=tmp_path, capture_output=True, timeout=60
    )


def test_without_the_zstd_extra_check_names_the_install_command(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl.zst").write_bytes(zst('{"n": 1}\n'))
    (tmp_path / "p.rill").write_text(
        'source s = file("in.jsonl.zst")\nsink o = file("out.jsonl")\ns | into o\n'
    )
    result = _without_zstd(tmp_path, "check", "p.rill")
    assert result.returncode == 2
    err = result.stderr.decode()
    assert "invalid argument `path` for `file`" in err
    assert "reading zstd needs the `zstandard` package: pip install 'rillet[zstd]'" in err
    assert "Traceback" not in err


def test_without_the_zstd_extra_a_glob_matching_a_zst_file_stops_with_one_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs/a.zst").write_bytes(zst('{"n": 1}\n'))
    (tmp_path / "p.rill").write_text(
        'source s = file("logs/*")\nsink o = file("out.jsonl")\ns | into o\n'
    )
    result = _without_zstd(tmp_path, "run", "-q", "p.rill")
    assert result.returncode == 1
    assert result.stderr.decode().splitlines() == [
        "rillet: error: source `s`: cannot read logs/a.zst: reading zstd needs the "
        "`zstandard` package: pip install 'rillet[zstd]'"
    ]


def test_a_file_sink_named_gz_is_a_check_error(tmp_path: Path) -> None:
    compiled = compile_pipeline(
        'source s = file("in.jsonl")\nsink o = file("out.jsonl.gz")\ns | into o\n', tmp_path
    )
    assert [(d.code, d.message, d.label) for d in compiled.diagnostics] == [
        (
            "E0406",
            "invalid argument `path` for `file`",
            "the `file` sink writes uncompressed text: name the file without its .gz or .zst, and "
            "compress it once written",
        )
    ]
