"""`progress()` of the file source: bytes read of the bytes in all, across the files of a glob,
for the progress bar and its ETA; none for a followed input, which has no end."""

from __future__ import annotations

from pathlib import Path

import anyio

from rillet.runtime.clock import ManualClock
from rillet.runtime.connector import SourceContext
from rillet.stdlib.file import FileSource, FileSourceConfig

LINE = b'{"n": 1}\n'  # 9 bytes


def source(folder: Path, path: str, batch_size: int, follow: bool = False) -> FileSource:
    context = SourceContext(
        name="s",
        schema=None,
        clock=ManualClock(),
        base_dir=folder,
        batch_size=batch_size,
        batch_timeout_s=0.2,
    )
    return FileSource(FileSourceConfig(path, follow=follow), context)


def test_progress_counts_bytes_read_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(LINE * 4)
    (tmp_path / "b.jsonl").write_bytes(LINE * 6)

    async def read() -> list[tuple[int, int] | None]:
        s = source(tmp_path, "*.jsonl", batch_size=2)
        await s.open()
        seen = [s.progress()]
        while await s.read_batch() is not None:
            seen.append(s.progress())
        await s.aclose()
        return seen

    seen = anyio.run(read)
    assert seen[0] == (0, 90)
    assert [done for done, _ in seen[1:]] == [18, 36, 54, 72, 90]


def test_followed_input_has_no_progress(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(LINE)
    assert source(tmp_path, "a.jsonl", batch_size=2, follow=True).progress() is None


def test_progress_through_lines_of_uneven_length_rises_to_the_file_size(tmp_path: Path) -> None:
    lines = b"".join(b'{"n": "%s"}\n' % (b"x" * (n * 7 % 50)) for n in range(40))
    (tmp_path / "a.jsonl").write_bytes(lines)

    async def read() -> list[int]:
        s = source(tmp_path, "a.jsonl", batch_size=3)
        await s.open()
        seen = []
        while await s.read_batch() is not None:
            progress = s.progress()
            assert progress is not None
            seen.append(progress[0])
        await s.aclose()
        return seen

    seen = anyio.run(read)
    assert seen == sorted(seen)  # estimated within the file's one chunk, never going back
    assert 0 < seen[0] < len(lines) and seen[-1] == len(lines)
