"""`stdin()` and `stdout()` (stdlib/stdio.py) through the real `rillet` command: a pipeline as a
Unix filter, in jsonl, csv and lines, with bad stdin lines reported at their byte offset.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import msgspec

from tests.conftest import rillet


def _pipeline(write, body: str) -> None:
    write("p.rill", body)


def _jsonl(data: bytes) -> list[dict]:
    return [msgspec.json.decode(line) for line in data.splitlines()]


def test_stdin_to_stdout_filters_jsonl(tmp_path: Path, write) -> None:
    _pipeline(
        write,
        "source s = stdin()\nsink o = stdout()\ns | where n > 1 | derive sq = n * n | into o\n",
    )
    data = b"".join(b'{"n": %d}\n' % n for n in range(5))
    result = rillet("run", "p.rill", "-q", cwd=tmp_path, input=data)
    assert result.returncode == 0, result.stderr
    assert _jsonl(result.stdout) == [{"n": 2, "sq": 4}, {"n": 3, "sq": 9}, {"n": 4, "sq": 16}]
    assert result.stderr == b""


def test_stdin_reads_last_line_without_newline_and_many_batches(tmp_path: Path, write) -> None:
    _pipeline(write, "set batch_size = 7\nsource s = stdin()\nsink o = stdout()\ns | into o\n")
    data = b"\n".join(b'{"n": %d}' % n for n in range(100))
    result = rillet("run", "p.rill", "-q", cwd=tmp_path, input=data)
    assert result.returncode == 0, result.stderr
    assert [r["n"] for r in _jsonl(result.stdout)] == list(range(100))


def test_stdin_csv_to_stdout_csv(tmp_path: Path, write) -> None:
    _pipeline(
        write,
        "schema R {\n  id: int\n  price: float\n  tag: str?\n}\n"
        'source s: R = stdin(format="csv")\nsink o = stdout(format="csv")\n'
        "s | derive total = price * 2 | into o\n",
    )
    result = rillet("run", "p.rill", "-q", cwd=tmp_path, input=b"id,price,tag\n1,2.5,a\n2,1,\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"id,price,tag,total\n1,2.5,a,5.0\n2,1.0,,2.0\n"


def test_stdin_lines_gives_each_line_as_text(tmp_path: Path, write) -> None:
    _pipeline(
        write,
        'source s = stdin(format="lines")\nsink o = stdout()\n'
        "s | derive size = len(line) | into o\n",
    )
    result = rillet("run", "p.rill", "-q", cwd=tmp_path, input=b"alpha\r\nbe\n")
    assert result.returncode == 0, result.stderr
    assert _jsonl(result.stdout) == [{"line": "alpha", "size": 5}, {"line": "be", "size": 2}]


def test_stdin_bad_line_goes_to_error_sink_with_stdin_offset(tmp_path: Path, write) -> None:
    _pipeline(
        write,
        'source s = stdin()\nsink o = stdout()\nsink e = file("e.jsonl")\n'
        "errors into e\ns | into o\n",
    )
    result = rillet("run", "p.rill", "-q", cwd=tmp_path, input=b'{"a": 1}\n{"a": oops}\n{"a": 3}\n')
    assert result.returncode == 0, result.stderr
    assert _jsonl(result.stdout) == [{"a": 1}, {"a": 3}]
    [error] = _jsonl((tmp_path / "e.jsonl").read_bytes())
    assert (error["source"], error["file"], error["offset"], error["raw"]) == (
        "s",
        "<stdin>",
        9,
        '{"a": oops}',
    )


def test_stdin_bad_line_without_error_sink_exits_1(tmp_path: Path, write) -> None:
    _pipeline(write, "source s = stdin()\nsink o = stdout()\ns | into o\n")
    result = rillet("run", "p.rill", "-q", cwd=tmp_path, input=b'{"a": 1}\nnope\n')
    assert result.returncode == 1
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    assert stderr.startswith(
        "rillet: error: source `s` (p.rill:1:1): bad record at <stdin> offset 9: malformed JSON"
    )


def test_empty_stdin_writes_nothing(tmp_path: Path, write) -> None:
    _pipeline(write, "source s = stdin()\nsink o = stdout()\ns | into o\n")
    result = rillet("run", "p.rill", "-q", cwd=tmp_path, input=b"")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""


def test_stdin_csv_keeps_quoted_newline_across_batches(tmp_path: Path, write) -> None:
    _pipeline(
        write, 'set batch_size = 2\nsource s = stdin(format="csv")\nsink o = stdout()\ns | into o\n'
    )
    result = rillet(
        "run",
        "p.rill",
        "-q",
        cwd=tmp_path,
        input=b'id,note\n1,"two\nlines"\n2,"a ""b"",\r\nc"\n3,x\n',
    )
    assert result.returncode == 0, result.stderr
    assert _jsonl(result.stdout) == [
        {"id": "1", "note": "two\nlines"},
        {"id": "2", "note": 'a "b",\r\nc'},
        {"id": "3", "note": "x"},
    ]


def test_stdin_csv_row_that_is_not_utf8_goes_to_the_error_sink(tmp_path: Path, write) -> None:
    _pipeline(
        write,
        'source s = stdin(format="csv")\nsink o = stdout()\n'
        'sink e = file("e.jsonl")\nerrors into e\ns | into o\n',
    )
    result = rillet(
        "run", "p.rill", "-q", cwd=tmp_path, input=b"\xef\xbb\xbfid,note\n1,caf\xe9\n2,ok\n"
    )
    assert result.returncode == 0, result.stderr
    assert _jsonl(result.stdout) == [{"id": "2", "note": "ok"}]
    [error] = _jsonl((tmp_path / "e.jsonl").read_bytes())
    assert (error["offset"], error["reason"], error["raw"]) == (
        1,
        "invalid UTF-8 (byte 5 of the row)",
        "1,caf\ufffd",
    )


def test_stdout_closed_by_reader_stops_with_one_line(tmp_path: Path, write) -> None:
    """`rillet run p.rill | head -1`: the reader goes away; no traceback, exit code 1."""
    _pipeline(write, "source s = generate(count=1000000)\nsink o = stdout()\ns | into o\n")
    with subprocess.Popen(
        [sys.executable, "-m", "rillet.dsl.cli", "run", "p.rill", "-q"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()
        stderr = proc.stderr.read().decode()
        returncode = proc.wait(timeout=60)
    assert set(msgspec.json.decode(first)) == {"ts", "user", "page", "status", "latency_ms"}
    assert returncode == 1
    assert stderr == "rillet: error: sink `o`: standard output was closed\n"


def test_stdin_hands_on_a_line_from_a_pipe_before_the_batch_timeout(tmp_path: Path, write) -> None:
    _pipeline(write, "set batch_timeout = 5m\nsource s = stdin()\nsink o = stdout()\ns | into o\n")
    with subprocess.Popen(
        [sys.executable, "-m", "rillet.dsl.cli", "run", "p.rill", "-q"],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    ) as process:
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(b'{"n": 1}\n')
            process.stdin.flush()
            # the pipe stays open: the line comes out while the batch could still wait minutes
            first = process.stdout.readline()
            process.stdin.write(b'{"n": 2}\n')
            process.stdin.close()
            rest = process.stdout.read()
        finally:
            process.kill()
    assert _jsonl(first + rest) == [{"n": 1}, {"n": 2}]
