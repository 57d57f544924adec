"""The language server's wiring: LSP messages in, the answers of the pure modules out.

Each open document is analysed on open and on every change (full text sync) and its diagnostics
published; hover, completion and definition read the latest analysis; formatting is `rillet
fmt`'s, one `TextEdit` over the whole document (none while it does not parse: the diagnostics
already say why). Only this module knows LSP's places (0-based, in the editor's code units); the
rest count as `Span`s do. A feature is one handler here.

Plugins a pipeline `use`s run inside this process, and whatever they print must not garble the
protocol: `serve` keeps the real standard output for LSP and points file descriptor 1 (and
`sys.stdout`) at standard error.
"""

from __future__ import annotations

import os
import sys

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace import ServerTextPosition, ServerTextRange, TextDocument

from rillet.runtime.plan import Span

from ..arguments import installed_version
from ..fmt import FormatError, MeaningChanged, format_text
from .analysis import Analysis, analyse
from .completion import completions
from .definition import definition
from .diagnostics import to_lsp
from .hover import hover
from .locate import Place

KINDS = {
    "field": lsp.CompletionItemKind.Field,
    "keyword": lsp.CompletionItemKind.Keyword,
    "function": lsp.CompletionItemKind.Function,
    "operator": lsp.CompletionItemKind.Operator,
    "connector": lsp.CompletionItemKind.Class,
    "argument": lsp.CompletionItemKind.Property,
    "name": lsp.CompletionItemKind.Reference,
}
TRIGGERS = ["|", "(", ","]


class Editor:
    """The open documents' analyses, and the conversion between their places and LSP's."""

    def __init__(self, server: LanguageServer) -> None:
        self.server = server
        self.analyses: dict[str, Analysis] = {}

    def document(self, uri: str) -> TextDocument:
        return self.server.workspace.get_text_document(uri)

    def refresh(self, uri: str) -> None:
        document = self.document(uri)
        path = to_fs_path(uri) or uri
        analysis = analyse(document.source, path, self.analyses.get(uri))
        self.analyses[uri] = analysis
        diagnostics = [
            to_lsp(d, lambda s: self.range(document, s)) for d in analysis.compiled.diagnostics
        ]
        self.server.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=document.version)
        )

    def close(self, uri: str) -> None:
        self.analyses.pop(uri, None)
        self.server.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[])
        )

    def place(self, document: TextDocument, position: lsp.Position) -> Place:
        at = document.position_from_client_units(position)
        return at.line + 1, at.character + 1

    def range(self, document: TextDocument, span: Span | None) -> lsp.Range:
        if span is None:
            return lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0))
        start = ServerTextPosition(span.line - 1, span.col - 1)
        end = ServerTextPosition(span.end_line - 1, span.end_col - 1)
        return document.range_to_client_units(ServerTextRange(start, end))

    def hover(self, params: lsp.HoverParams) -> lsp.Hover | None:
        document, analysis = self._opened(params.text_document.uri)
        if analysis is None or analysis.checked is None:
            return None
        found = hover(analysis.checked, self.place(document, params.position))
        if found is None:
            return None
        text, span = found
        content = lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text)
        return lsp.Hover(contents=content, range=self.range(document, span))

    def complete(self, params: lsp.CompletionParams) -> lsp.CompletionList:
        document, analysis = self._opened(params.text_document.uri)
        checked = None if analysis is None else analysis.checked
        place = self.place(document, params.position)
        items = [
            lsp.CompletionItem(
                label=s.label, kind=KINDS[s.kind], detail=s.detail or None, insert_text=s.insert
            )
            for s in completions(document.source, place, checked)
        ]
        return lsp.CompletionList(is_incomplete=False, items=items)

    def definition(self, params: lsp.DefinitionParams) -> lsp.Location | None:
        uri = params.text_document.uri
        document, analysis = self._opened(uri)
        if analysis is None or analysis.checked is None:
            return None
        span = definition(analysis.checked.program, self.place(document, params.position))
        return None if span is None else lsp.Location(uri, self.range(document, span))

    def format(self, uri: str) -> list[lsp.TextEdit] | None:
        document = self.document(uri)
        try:
            formatted = format_text(document.source)
        except (FormatError, MeaningChanged):
            return None
        if formatted == document.source:
            return []
        lines = document.source.splitlines(keepends=True)
        end = lsp.Position(len(lines), 0)  # past the last line: the whole text
        return [lsp.TextEdit(lsp.Range(lsp.Position(0, 0), end), formatted)]

    def _opened(self, uri: str) -> tuple[TextDocument, Analysis | None]:
        return self.document(uri), self.analyses.get(uri)


def create() -> LanguageServer:
    server = LanguageServer(
        "rillet", installed_version(), text_document_sync_kind=lsp.TextDocumentSyncKind.Full
    )
    editor = Editor(server)

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: lsp.DidOpenTextDocumentParams) -> None:
        editor.refresh(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: lsp.DidChangeTextDocumentParams) -> None:
        editor.refresh(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: lsp.DidCloseTextDocumentParams) -> None:
        editor.close(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def on_hover(params: lsp.HoverParams) -> lsp.Hover | None:
        return editor.hover(params)

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    def on_definition(params: lsp.DefinitionParams) -> lsp.Location | None:
        return editor.definition(params)

    @server.feature(
        lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=TRIGGERS)
    )
    def on_completion(params: lsp.CompletionParams) -> lsp.CompletionList:
        return editor.complete(params)

    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    def on_formatting(params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit] | None:
        return editor.format(params.text_document.uri)

    return server


def serve() -> None:
    """Speak LSP on this process's standard input and output until the editor says `exit`."""
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    create().start_io(sys.stdin.buffer, protocol_out)
