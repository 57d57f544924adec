"""The checker's diagnostics as LSP diagnostics: the same code, message, label and hints that
`rillet check` prints, at the span's range. Places are converted to the editor's units by the
caller (`Editor.range`), since only the open document knows its text in those units."""

from __future__ import annotations

from collections.abc import Callable

from lsprotocol import types as lsp

from rillet.runtime.plan import Span

from ..diagnostic import Diagnostic

SEVERITIES = {"error": lsp.DiagnosticSeverity.Error, "warning": lsp.DiagnosticSeverity.Warning}


def to_lsp(diagnostic: Diagnostic, range_of: Callable[[Span | None], lsp.Range]) -> lsp.Diagnostic:
    """The label and each hint follow the message on lines of their own, as `rillet check`
    prints them under the caret; a diagnostic without a span (a `use`d plugin's, an `-p`) sits
    at the file's start."""
    lines = [diagnostic.message]
    if diagnostic.label:
        lines.append(diagnostic.label)
    lines += [f"hint: {hint}" for hint in diagnostic.hints]
    return lsp.Diagnostic(
        range=range_of(diagnostic.span),
        message="\n".join(lines),
        severity=SEVERITIES[diagnostic.severity],
        code=diagnostic.code,
        source="rillet",
    )
