"""Which files a `file` source's path or glob names, and how a file is shown in messages and
positions (relative to the pipeline's folder when inside it, so that a project folder can move
and still resume); shared by the source (`file.py`) and the sink (`filesink.py`)."""

from __future__ import annotations

import functools
import glob
import os
from pathlib import Path


def matching(pattern: str) -> list[str]:
    """The files a path or a glob names, in name order."""
    if glob.has_magic(pattern):
        return sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
    return [pattern] if os.path.isfile(pattern) else []


@functools.lru_cache(maxsize=256)  # asked once per batch, for the same few files
def display_path(path: str, base_dir: Path) -> str:
    try:
        return os.path.relpath(path, base_dir) if Path(path).is_relative_to(base_dir) else path
    except ValueError:
        return path
