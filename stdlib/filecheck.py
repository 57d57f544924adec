"""The checks of the `file` connectors' configs that msgspec's types cannot express, shared by the
source and table (`file.py`) and the sink (`filesink.py`), so that `rillet check` reports a bad
option under its argument before any run."""

from __future__ import annotations

from .compressed import ZSTD_INSTALL, compression_of, zstd_available


def invalid(key: str, message: str) -> ValueError:
    """A config error that `rillet check` shows under argument `key` (in msgspec's own form)."""
    return ValueError(f"{message} - at `$.{key}`")


def check_compression(path: str, setting: str) -> None:
    """zstd files need a decompressor that may not be installed: say so before the run."""
    if compression_of(path, setting) == "zstd" and not zstd_available():
        key = "path" if setting == "auto" else "compression"
        raise invalid(key, f"reading zstd needs the `zstandard` package: {ZSTD_INSTALL}")


def check_csv(fmt: str, delimiter: str, header: bool) -> None:
    """One delimiter character that cannot be mistaken for quoting or a row's end; and the csv
    options only with csv, where a jsonl source given them would silently ignore them."""
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise invalid("delimiter", 'a delimiter is one character, other than `"` and line ends')
    if fmt != "csv" and (delimiter != "," or not header):
        key = "delimiter" if delimiter != "," else "header"
        raise invalid(key, f'`{key}` applies to format="csv" only')
