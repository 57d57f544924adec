"""Where the parser tables built from `grammar.lark` are kept between runs: in the user's cache
folder (`$XDG_CACHE_HOME/rillet`, else `~/.cache/rillet`), so that a run loads them rather than
analysing the grammar again. One file per grammar, reader (the parser, the formatter) and Python
version; lark also checks a digest of the grammar and its options kept in the file, and builds
the tables anew when they differ. A cache folder that cannot be made leaves the grammar uncached:
slower, never an error."""

from __future__ import annotations

import hashlib
import sys

from rillet.runtime.usercache import cache_folder


def cache_file(grammar: str, reader: str) -> str | bool:
    """Lark's `cache=` for `grammar` read by `reader`: a file in `cache_folder()`, or False."""
    try:
        folder = cache_folder()
        folder.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError):  # RuntimeError: no home folder to be found
        return False
    digest = hashlib.sha256(grammar.encode()).hexdigest()[:16]
    python = f"py{sys.version_info.major}{sys.version_info.minor}"
    return str(folder / f"grammar-{reader}-{digest}-{python}.lark")
