"""One version of an open document through the front end, and what the editor features read.

The file's folder matters (`use "plugin.py"`, the files sources read), so a document is compiled
as `rillet check` compiles the file on disk. While the author types, the text often does not
parse (`| ` with no operator yet); hover, completion and definition then read the last version
that did, whose names and types are still what the author means.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..checked import Checked
from ..pipeline import Compiled, compile_text


@dataclass(frozen=True)
class Analysis:
    compiled: Compiled
    """This version's diagnostics."""
    checked: Checked | None
    """The checked program of this version, or of the last one that parsed (None if none did)."""


def analyse(text: str, path: str, previous: Analysis | None = None) -> Analysis:
    """`path`: the document's file (its folder resolves relative paths); the process's
    environment is what `env()` reads, as for `rillet check`."""
    file = Path(path)
    base_dir = file.parent if file.is_absolute() else Path.cwd()
    compiled = compile_text(text, path, base_dir, environ=os.environ, inputs=True)
    checked = compiled.checked
    if checked is None and previous is not None:
        checked = previous.checked
    return Analysis(compiled, checked)
