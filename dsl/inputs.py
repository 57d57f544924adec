"""Whether the files a pipeline reads are there, for `rillet check`.

A missing input would otherwise pass the check and stop the run later, without a line and
column and without saying where the relative path was looked for. Only `rillet check` asks:
`run` reports it when the source opens (a finished input may be gone on a resumed run), and
`test`, `graph` and `explain` read no data. A connector says which config field names the file
it reads (`Spec.reads`); a glob, or a source that waits for its input (`follow=true`), may find
it later, so those get a warning, a plain path an error.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any

from . import ast
from .checked import Checked
from .connectorcheck import argument_node
from .diagnostic import Diagnostic, error, warning
from .hybridcheck import parts_of

HINT = "relative paths are resolved against the pipeline file's folder, not the current one"


def missing_inputs(checked: Checked, base_dir: Path) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    inputs: list[tuple[str, ast.SourceDecl | ast.TableDecl, ast.ConnectorCall, dict[str, Any]]]
    inputs = [
        ("source", decl, call, config)
        for name, (decl, _) in checked.sources.items()
        for call, config in parts_of(checked, name)
    ]
    inputs += [("table", decl, decl.call, config) for decl, config in checked.tables.values()]
    for kind, decl, call, config in inputs:
        problem = _input(checked, kind, decl, call, config, base_dir)
        if problem is not None:
            found.append(problem)
    return found


def _input(
    checked: Checked,
    kind: str,
    decl: ast.SourceDecl | ast.TableDecl,
    call: ast.ConnectorCall,
    config: dict[str, Any],
    base_dir: Path,
) -> Diagnostic | None:
    spec = checked.registry.get(kind, call.name.text)
    if spec is None or spec.reads is None or not isinstance(config.get(spec.reads), str):
        return None
    path: str = config[spec.reads]
    resolved = base_dir / path
    span = argument_node(call, spec, spec.reads).span
    relative = not os.path.isabs(path)
    where = f"resolved against {base_dir}" if relative else ""
    hints = (HINT,) if relative else ()
    name = f"{kind} `{decl.name.text}`"
    if glob.has_magic(str(resolved)):
        if any(os.path.isfile(p) for p in glob.iglob(str(resolved))):
            return None
        waits = (
            "it waits for them (`follow=true`)"
            if config.get("follow") is True
            else "a run stops unless one appears first"
        )
        return warning(
            "W0410",
            f"no file matches `{path}` yet",
            span,
            where or "no match",
            f"{name} reads the files that match when it runs: {waits}",
            *hints,
        )
    if resolved.is_file():
        return None
    if resolved.exists():
        return error(
            "E0410",
            f"`{path}` is not a file",
            span,
            where or "not a file",
            f"{name} reads a file, or the files a glob such as "
            f"`{path.rstrip('/')}/*.jsonl` matches",
        )
    if config.get("follow") is True:
        return warning(
            "W0410",
            f"`{path}` does not exist yet",
            span,
            where or "no such file",
            f"{name} waits for it to appear (`follow=true`)",
            *hints,
        )
    return error(
        "E0410", f"input file `{path}` does not exist", span, where or "no such file", *hints
    )
