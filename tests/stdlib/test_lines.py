"""Line splitting with byte offsets (stdlib/lines.py), shared by the file and stdin sources:
however the input is cut into chunks and however many lines are taken at a time, the lines and
the offsets of their starts are those of the whole input.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rillet.stdlib.lines import LineSplitter


def _reference(data: bytes) -> tuple[list[bytes], list[int]]:
    """Lines split on b"\n" only (a "\r" stays), a last line without newline included."""
    parts = data.split(b"\n")
    if parts[-1] == b"":
        parts.pop()
    offsets, at = [], 0
    for part in parts:
        offsets.append(at)
        at += len(part) + 1
    return parts, offsets


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(
        st.sampled_from([b"a", b"bc", b"\n", b"\r", b"\xc3\xa9", b"{}"]), max_size=60
    ).map(b"".join),
    cuts=st.lists(st.integers(0, 80), max_size=10),
    takes=st.lists(st.integers(1, 5), min_size=1, max_size=10),
)
def test_line_splitter_gives_lines_and_start_offsets_whatever_the_chunks(
    data: bytes, cuts: list[int], takes: list[int]
) -> None:
    splitter = LineSplitter()
    lines: list[bytes] = []
    offsets: list[int] = []
    bounds = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    for i, (start, stop) in enumerate(zip(bounds, bounds[1:])):
        splitter.feed(data[start:stop])
        taken, at = splitter.take(takes[i % len(takes)])
        lines += taken
        offsets += at
    splitter.finish()
    while splitter.pending:
        taken, at = splitter.take(takes[0])
        lines += taken
        offsets += at
    assert (lines, offsets) == _reference(data)


def test_line_splitter_holds_partial_line_until_newline_or_finish() -> None:
    splitter = LineSplitter()
    splitter.feed(b'{"a": 1}\n{"b"')
    assert splitter.take(10) == ([b'{"a": 1}'], [0])
    splitter.feed(b": 2")
    assert splitter.pending == 0
    splitter.feed(b"}\nx")
    assert splitter.take(10) == ([b'{"b": 2}'], [9])
    splitter.finish()
    assert splitter.take(10) == ([b"x"], [18])
    splitter.finish()
    assert splitter.pending == 0


def test_line_splitter_starts_at_a_given_offset() -> None:
    splitter = LineSplitter(offset=100)
    splitter.feed(b"ab\ncd\n")
    assert splitter.take(5) == ([b"ab", b"cd"], [100, 103])


@given(cut=st.integers(0, 12))
def test_byte_order_mark_at_the_start_of_the_input_is_not_part_of_the_first_line(cut: int) -> None:
    data = b'\xef\xbb\xbf{"a": 1}\n\xef\xbb\xbf{"b": 2}\n'
    splitter = LineSplitter()
    splitter.feed(data[:cut])
    splitter.feed(data[cut:])
    lines, offsets = splitter.take(5)
    assert (lines, list(offsets)) == ([b'{"a": 1}', b'\xef\xbb\xbf{"b": 2}'], [0, 12])
    assert splitter.position == len(data)
    resumed = LineSplitter(12)  # only the start of the input can hold one
    resumed.feed(data[12:])
    assert resumed.take(5)[0] == [b'\xef\xbb\xbf{"b": 2}']
