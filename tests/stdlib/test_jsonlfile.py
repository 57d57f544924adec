"""A jsonl file read a chunk at a time (stdlib/jsonlfile.py) gives the same batches as reading
it line by line (`LineSplitter` and `decode_jsonl`, as stdin is read): the same records, the
same byte offsets, the same bad lines with the same reasons, and the same position after each
batch, whatever the chunk size and however the tricky lines fall into chunks."""

from __future__ import annotations

from pathlib import Path

import pytest

from rillet.runtime.plan import FieldSpec, SchemaSpec, TypeSpec
from rillet.runtime.schema import Schema
from rillet.stdlib.compressed import Reader
from rillet.stdlib.formats import decode_jsonl
from rillet.stdlib.jsonlfile import JsonlFile
from rillet.stdlib.lines import LineSplitter

POINT = SchemaSpec(
    "Point",
    (FieldSpec("x", TypeSpec("int")), FieldSpec("label", TypeSpec("str", optional=True))),
)
GOOD = "".join(f'{{"x": {i}, "label": "p{i}"}}\n' for i in range(40))
INPUTS = {
    "good": GOOD,
    "no-last-newline": GOOD + '{"x": 99}',
    "blank-lines": GOOD[:100] + "\n\n" + GOOD[100:] + "\n",
    "space-only-line": GOOD[:100] + "   \n" + GOOD[100:],
    "space-led-line": GOOD + '  {"x": 7}\n' + GOOD,
    "crlf": GOOD.replace("\n", "\r\n"),
    "crlf-blank-line": GOOD.replace("\n", "\r\n") + "\r\n" + GOOD,
    "two-objects-and-a-blank": GOOD + '{"x": 1} {"x": 2}\n\n' + GOOD,
    "two-objects-and-spaces": GOOD + '{"x": 1} {"x": 2}\n \n' + GOOD,
    "object-over-lines": GOOD + '{"x":\n5}\n' + GOOD,
    "bad-line": GOOD + "{not json\n" + GOOD,
    "wrong-type": GOOD + '{"x": "one"}\n' + GOOD,
    "not-an-object": GOOD + "[1, 2]\n" + GOOD,
    "byte-order-mark": "\ufeff" + GOOD,
    "not-utf8": GOOD + '{"x": 1, "label": "\udcff"}\n' + GOOD,
}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    return path


def _by_lines(path: Path, schema: Schema | None, size: int) -> list[tuple]:
    """The reference: lines first, then each batch of lines decoded."""
    splitter = LineSplitter()
    splitter.feed(path.read_bytes())
    splitter.finish()
    batches = []
    while splitter.pending:
        lines, offsets = splitter.take(size)
        records, kept, bad = decode_jsonl(lines, offsets, schema)
        batches.append((records, list(kept), bad, splitter.position))
    return batches


def _by_chunks(path: Path, schema: Schema | None, size: int, chunk: int) -> list[tuple]:
    file = JsonlFile(Reader(open(path, "rb")), schema, chunk)  # noqa: SIM115  # closed below
    batches = []
    try:
        while True:
            if not file.fill(size):
                file.finish()
                if not file.pending:
                    break
            batch = file.take(size)
            batches.append((batch.records, list(batch.offsets), batch.bad, file.position))
    finally:
        file.close()
    return batches


@pytest.mark.parametrize("name", INPUTS)
@pytest.mark.parametrize("chunk", [1, 7, 64, 1 << 20])
@pytest.mark.parametrize("typed", [False, True])
def test_chunks_read_as_lines_do(tmp_path: Path, name: str, chunk: int, typed: bool) -> None:
    path = _write(tmp_path, INPUTS[name])
    schema = Schema(POINT, typed=typed) if typed else None
    assert _by_chunks(path, schema, 16, chunk) == _by_lines(path, schema, 16)


def test_resumes_at_a_position_it_gave(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD + "{bad\n" + GOOD)
    first = JsonlFile(Reader(open(path, "rb")), None, 64)  # noqa: SIM115  # closed below
    first.fill(10)
    first.take(10)
    position = first.position
    first.fill(1000)
    first.finish()
    rest = first.take(1000).records
    assert len(rest) == 70
    first.close()
    again = JsonlFile(Reader(open(path, "rb")), None)  # noqa: SIM115  # closed below
    assert again.seek(position) == position
    again.fill(1000)
    again.finish()
    assert again.take(1000).records == rest
    assert again.position == path.stat().st_size
    again.close()
