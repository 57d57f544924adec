"""The user's cache folder, where rillet keeps what it can work out again but would rather not
at every start: the grammar's parser tables and parsed pipeline files (`dsl/`), the installed
plugins' entry points (`installed.py`). `$XDG_CACHE_HOME/rillet`, else `~/.cache/rillet`."""

from __future__ import annotations

import os
from pathlib import Path


def cache_folder() -> Path:
    """The folder (not made here); RuntimeError when there is no home folder to be found."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"  # the spec: absolute only
    return base / "rillet"


def keep(path: Path, data: bytes) -> bool:
    """Write `data` to `path` whole or not at all (a reader never sees half of it); whether it
    was written. A cache that cannot be written is passed by."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_bytes(data)
        os.replace(partial, path)
    except OSError:
        return False
    return True


__all__ = ["cache_folder", "keep"]
