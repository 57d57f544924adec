"""A glob file source as a Flink filesystem table: the folder it names, and a regular
expression over the absolute paths of the files in it (`source.path.regex-pattern`).

rillet reads `glob.glob(pattern)`: `*` and `?` do not cross `/`, `[...]` is a set (`[!...]`
its complement), and a name starting with `.` is matched only by a pattern that starts with `.`
too. Flink also skips every name starting with `_`: a glob matching such a file when the job is
built does not map (it would be read by one engine only). Magic in a folder name does not map
either: the expression would have to match the folders Flink walks through.
"""

from __future__ import annotations

import glob
import re
from pathlib import Path

from .sqlexpr import Unmappable

MAGIC = set("*?[")
_SET = re.compile(r"\[(!?)([A-Za-z0-9_.-]+)\]")


def glob_options(pattern: str) -> dict[str, str]:
    """The filesystem table's `path` and `source.path.regex-pattern` for an absolute glob."""
    folder, name = Path(pattern).parent, Path(pattern).name
    if MAGIC & set(str(folder)):
        raise Unmappable("a glob with `*`, `?` or `[` in a folder name (Flink reads one folder)")
    if name.startswith(("_", ".")):
        raise Unmappable("a glob of names starting with `_` or `.`: Flink skips such files")
    skipped = [p for p in glob.glob(pattern) if Path(p).name.startswith("_")]
    if skipped:
        raise Unmappable(f"a glob matching `{Path(skipped[0]).name}`: Flink skips names with `_`")
    return {"path": str(folder), "source.path.regex-pattern": re.escape(f"{folder}/") + _name(name)}


def _name(pattern: str) -> str:
    """A glob of one file name as a regular expression over its whole text."""
    out, at = [], 0
    while at < len(pattern):
        c, found = pattern[at], _SET.match(pattern, at)
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif found:
            negate, members = found.groups()
            out.append(f"[{'^/' if negate else ''}{members}]")
            at = found.end() - 1
        elif c == "[":
            raise Unmappable("a glob set `[...]` other than letters, digits, `_`, `.` and ranges")
        else:
            out.append(re.escape(c))
        at += 1
    return "".join(out)
