"""Reading a file as its uncompressed bytes: plain, gzip or zstd, chosen by the file's extension
or by the source's `compression` argument.

Decompression is incremental (one decompressor object per gzip member or zstd frame, fed raw
chunks as they are read), not a library file object: a followed file grows while it is read,
and a member whose end has not been written yet must wait for it instead of failing as a
truncated file. Offsets stay in uncompressed bytes, so a resumed run decompresses the stream
again up to its offset (`skip`): a compressed stream cannot be entered in the middle.

zstd comes from Python's own `compression.zstd` (3.14) when there is one, else from the
`zstandard` package, the optional extra `rillet[zstd]`.
"""

from __future__ import annotations

import functools
import importlib
import os
import zlib
from typing import Any, BinaryIO, Literal

from rillet.runtime.plugin import ConnectorError

Compression = Literal["auto", "gzip", "zstd", "none"]
EXTENSIONS = {".gz": "gzip", ".zst": "zstd"}
ZSTD_INSTALL = "pip install 'rillet[zstd]'"
RAW_CHUNK_BYTES = 1 << 16
"""Raw bytes fed to a decompressor at once: text expands 5 to 20 times, so this keeps each
decompressed piece near the 1 MiB a plain file is read by."""


def compression_of(path: str, setting: str) -> str:
    """`gzip`, `zstd` or `none` for a file at `path` under the source's `compression`."""
    if setting != "auto":
        return setting
    return EXTENSIONS.get(os.path.splitext(path)[1].lower(), "none")


@functools.cache
def _zstd() -> Any:
    """Python's `compression.zstd` (3.14 on), else the `zstandard` package, else None."""
    for name in ("compression.zstd", "zstandard"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def zstd_available() -> bool:
    return _zstd() is not None


def _zstd_decompressor() -> Any:
    """A fresh decompressor for one zstd frame."""
    zstd = _zstd()
    if zstd.__name__ == "compression.zstd":
        return zstd.ZstdDecompressor()
    return zstd.ZstdDecompressor().decompressobj()


def _gzip_decompressor() -> Any:
    return zlib.decompressobj(16 + zlib.MAX_WBITS)  # a gzip header and trailer


class Reader:
    """A file's bytes as read so far: `read` gives the next uncompressed bytes (b"" when there
    are none yet), `raw_read` says how much of the file itself has been taken."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle

    def read(self, size: int) -> bytes:
        return self.handle.read(size)

    def skip(self, size: int) -> int:
        """Pass over `size` bytes; how many there were (fewer when the file is shorter)."""
        reached = min(size, os.fstat(self.handle.fileno()).st_size)
        self.handle.seek(reached)
        return reached

    @property
    def raw_read(self) -> int:
        return self.handle.tell()

    def unread(self) -> bool:
        """Whether the file holds bytes not yet read (it grew)."""
        return os.fstat(self.handle.fileno()).st_size > self.handle.tell()

    def finish(self) -> None:
        """The file is done with: a compressed one must not end inside a member."""

    def close(self) -> None:
        self.handle.close()


class Decompressing(Reader):
    """A gzip or zstd file: a sequence of members (zstd: frames), each decompressed as its bytes
    arrive; concatenated members read as one stream, as `gzip -d` and `zstd -d` read them."""

    def __init__(self, handle: BinaryIO, kind: str, what: str) -> None:
        super().__init__(handle)
        self.kind = kind
        self.member = "member" if kind == "gzip" else "frame"
        self.what = what  # "source `s`: cannot read data/a.jsonl.gz", for errors
        self._new = _gzip_decompressor if kind == "gzip" else _zstd_decompressor
        self._decompressor: Any = None  # None between members
        self._pending = b""  # uncompressed, not yet handed out (read past a skip)

    def read(self, size: int) -> bytes:
        """The next uncompressed bytes, however many one raw chunk gives (`size` is a hint)."""
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        while raw := self.handle.read(RAW_CHUNK_BYTES):
            if data := self._decompress(raw):
                return data
        return b""

    def _decompress(self, raw: bytes) -> bytes:
        out = []
        while raw:
            if self._decompressor is None:
                if self.kind == "gzip":  # gzip files may be padded with zeros, as gzip allows
                    raw = raw.lstrip(b"\0")
                    if not raw:
                        break
                self._decompressor = self._new()
            try:
                out.append(self._decompressor.decompress(raw))
            except Exception as e:  # zlib.error, ZstdError: each library has its own
                raise ConnectorError(
                    f'{self.what}: not valid {self.kind} data ({e}); compression="none" reads '
                    "the file as it is"
                ) from None
            if not self._decompressor.eof:
                break
            raw = self._decompressor.unused_data  # the next member begins here (zstd: frame)
            self._decompressor = None
        return b"".join(out)

    def skip(self, size: int) -> int:
        """Decompress and pass over `size` bytes: a stream cannot be entered in the middle."""
        reached, data = 0, b""
        while reached < size and (data := self.read(RAW_CHUNK_BYTES)):
            reached += len(data)
        if reached <= size:
            return reached
        self._pending = data[len(data) - (reached - size) :]  # read next
        return size

    def unread(self) -> bool:
        return bool(self._pending) or super().unread()

    def finish(self) -> None:
        if self._decompressor is not None:
            raise ConnectorError(
                f"{self.what}: the file ends inside a {self.kind} {self.member} "
                "(it was cut short, or is still being written)"
            )


def open_reader(path: str, setting: str, what: str) -> Reader:
    """`path` opened for reading through its compression; `what` begins error messages."""
    kind = compression_of(path, setting)
    if kind == "zstd" and not zstd_available():
        raise ConnectorError(f"{what}: reading zstd needs the `zstandard` package: {ZSTD_INSTALL}")
    handle = open(path, "rb")  # noqa: SIM115 - closed by the reader's `close`
    return Reader(handle) if kind == "none" else Decompressing(handle, kind, what)
