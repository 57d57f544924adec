"""The user's cache folder, where rillet keeps what it can work out again but would rather not
at every start: the grammar's parser tables and parsed pipeline files (`dsl/`), the installed
plugins' entry points (`entrypoints.py`). `$XDG_CACHE_HOME/rillet`, else `~/.cache/rillet`."""

from __future__ import annotations

import os
from pathlib import Path


def cache_folder() -> Path:
    """The folder (not made here); RuntimeError when there is no home folder to be found."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"  # the spec: absolute only
    return base / "rillet"


__all__ = ["cache_folder"]
