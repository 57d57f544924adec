"""`rillet lsp`: the language server editors start to check a pipeline file as it is typed.

    text (didOpen, didChange)
      → analysis.analyse: the front end on the text in memory (`compile_text`) → `Analysis`
      → diagnostics / hover / completion / definition: pure functions of an `Analysis` and a
        place in the file (1-based line and column, as `Span`s count them)
      → server.py: the only module that speaks LSP (pygls), converting places to the editor's
        units and back

Everything but `server.py` and `diagnostics.py` is free of pygls, so the answers are plain
values. Read `server.py` next.
"""
