"""A pipeline file through the front end: read → parse → check → plan.

Each phase returns its diagnostics; the next runs only when the previous had no error, so the
author sees every mistake of the earliest broken phase at once. A diagnostic that would quote a
value read through `env()` shows `env("NAME")` instead (`rillet.runtime.secret`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec
from msgspec import field

from rillet.runtime.plan import Plan
from rillet.runtime.secret import Secrets

from . import ast
from .checked import Checked
from .checker import check
from .comment import Comment
from .diagnostic import Diagnostic, SourceText, error, has_errors
from .inputs import missing_inputs
from .parsecache import parse_cached
from .planner import plan
from .silence import apply_silences


class Compiled(msgspec.Struct):
    source: SourceText
    diagnostics: list[Diagnostic] = field(default_factory=list)
    checked: Checked | None = None
    plan: Plan | None = None

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def compile_text(
    text: str,
    path: str,
    base_dir: Path,
    params: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    inputs: bool = False,
    cached: bool = False,
) -> Compiled:
    """`environ`: the variables `env()` may read (none when None). With `inputs`, the check
    also looks for the files the sources and tables read (`rillet check`). With `cached`, the
    syntax tree of a text parsed before is read back (`parsecache.py`): for files, not for
    an editor's every keystroke."""
    # editors on Windows may start a UTF-8 file with a byte-order mark: it is not text, and
    # dropping it here keeps the columns of line 1 where the author sees them
    text = text.removeprefix("\ufeff")
    compiled = Compiled(SourceText(path, text))
    parse = parse_cached if cached else _parse_afresh
    program, diagnostics, comments = parse(text)
    compiled.diagnostics += diagnostics
    if program is None:
        return compiled
    checked, diagnostics = check(program, base_dir, params, environ)
    if inputs:
        diagnostics = sorted(diagnostics + missing_inputs(checked, base_dir), key=_position)
    diagnostics = apply_silences(diagnostics, comments, compiled.source)
    compiled.checked = checked
    compiled.diagnostics += _masked(diagnostics, Secrets(checked.env.secrets))
    if compiled.ok:
        compiled.plan = plan(checked, path, base_dir)
    return compiled


def _masked(diagnostics: list[Diagnostic], secrets: Secrets) -> list[Diagnostic]:
    if not secrets:
        return diagnostics
    return [
        msgspec.structs.replace(
            d,
            message=secrets.mask(d.message),
            label=secrets.mask(d.label),
            hints=tuple(secrets.mask(h) for h in d.hints),
        )
        for d in diagnostics
    ]


def _position(d: Diagnostic) -> tuple[int, int]:
    return (0, 0) if d.span is None else (d.span.line, d.span.col)


def compile_file(
    path: str,
    params: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    inputs: bool = False,
) -> Compiled:
    """`path` as the user wrote it; relative paths inside resolve against its folder. `env()`
    reads `environ`, by default this process's environment; with `inputs`, the check also looks
    for the files the sources and tables read."""
    environ = os.environ if environ is None else environ
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        source = SourceText(path, "")
        return Compiled(source, [error("E0000", f"cannot read pipeline file: {reason}", None)])
    return compile_text(text, path, file.resolve().parent, params, environ, inputs, cached=True)


def _parse_afresh(text: str) -> tuple[ast.Program | None, list[Diagnostic], tuple[Comment, ...]]:
    from .parser import parse_with_comments

    return parse_with_comments(text)
