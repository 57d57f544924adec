"""`rillet lsp` driven over stdio as an editor drives it: diagnostics while typing, hover,
completion, go to definition, and a clean shutdown."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rillet.dsl.fmt import format_text
from tests.dsl._lsp import WAIT_S, LspClient

PIPELINE = """\
schema Click {
  ts: int
  user: str
  status: int
}

source clicks: Click = file("clicks.jsonl")
sink out = file("out.jsonl", format="jsonl")

stream ok = clicks
  | where status == 200
  | derive late = ts > 100

ok | select user, ts | into out
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "clicks.jsonl").write_text('{"ts": 1, "user": "a", "status": 200}\n')
    return tmp_path


SECRET = "s3cret-token"


@pytest.fixture
def client(folder: Path) -> Iterator[LspClient]:
    client = LspClient(folder, {"RILLET_LSP_TOKEN": SECRET})
    client.request(
        "initialize", {"processId": None, "rootUri": folder.as_uri(), "capabilities": {}}
    )
    client.notify("initialized", {})
    yield client
    client.close()


def open_document(client: LspClient, folder: Path, text: str) -> tuple[str, dict]:
    """Open `text` as pipeline.rill in `folder`; its URI and first published diagnostics."""
    uri = (folder / "pipeline.rill").as_uri()
    document = {"uri": uri, "languageId": "rill", "version": 1, "text": text}
    client.notify("textDocument/didOpen", {"textDocument": document})
    return uri, client.notification("textDocument/publishDiagnostics", uri=uri)


def position(text: str, line_text: str, word: str, offset: int = 1) -> dict[str, int]:
    """Where `word` is, `offset` characters in, on the line that starts with `line_text`."""
    lines = text.split("\n")
    line = next(i for i, content in enumerate(lines) if content.startswith(line_text))
    return {"line": line, "character": lines[line].index(word) + offset}


def test_lsp_reports_a_checker_error_with_code_and_range_then_clears_it(
    client: LspClient, folder: Path
) -> None:
    broken = PIPELINE.replace("where status", "where stauts")
    uri, published = open_document(client, folder, broken)
    [diagnostic] = published["diagnostics"]
    assert diagnostic["code"] == "E0202"
    assert diagnostic["severity"] == 1
    assert diagnostic["range"] == {
        "start": {"line": 10, "character": 10},
        "end": {"line": 10, "character": 16},
    }
    assert "unknown field `stauts`" in diagnostic["message"]
    assert "did you mean `status`?" in diagnostic["message"]

    client.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": uri, "version": 2},
            "contentChanges": [{"text": PIPELINE}],
        },
    )
    fixed = client.notification("textDocument/publishDiagnostics", uri=uri, version=2)
    assert fixed["diagnostics"] == []
    assert client.stop() == 0


def test_lsp_ranges_count_the_editors_utf16_units(client: LspClient, folder: Path) -> None:
    """`😀` is one column for the checker and two UTF-16 units for the editor."""
    broken = PIPELINE.replace("where status == 200", 'where user != "😀" and stauts == 200')
    _, published = open_document(client, folder, broken)
    [diagnostic] = published["diagnostics"]
    start = broken.split("\n")[10].index("stauts") + 1  # the emoji counted twice
    assert diagnostic["range"]["start"] == {"line": 10, "character": start}


def test_lsp_reports_warnings_with_their_hint(client: LspClient, folder: Path) -> None:
    unread = PIPELINE.replace("ok | select", "clicks | select")
    _, published = open_document(client, folder, unread)
    [warning] = published["diagnostics"]
    assert (warning["code"], warning["severity"]) == ("W0003", 2)
    assert "stream `ok` is never read" in warning["message"]


def hover_text(client: LspClient, uri: str, at: dict[str, int]) -> str:
    found = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": at})
    assert found is not None, f"no hover at {at}"
    return found["contents"]["value"]


def test_lsp_hover_shows_field_types_operators_and_connectors(
    client: LspClient, folder: Path
) -> None:
    uri, _ = open_document(client, folder, PIPELINE)
    field = hover_text(client, uri, position(PIPELINE, "  | where", "status"))
    assert field == "field `status`: `int` (from schema Click)"
    derived = hover_text(client, uri, position(PIPELINE, "ok | select", "ts"))
    assert derived.startswith("field `ts`: `int`")
    operator = hover_text(client, uri, position(PIPELINE, "  | where", "where"))
    assert "keep the records for which EXPR is truthy" in operator
    connector = hover_text(client, uri, position(PIPELINE, "source clicks", "file"))
    assert "file(path: str" in connector
    assert "source of plugin `std`" in connector
    sink = hover_text(client, uri, position(PIPELINE, "sink out", "file"))
    assert "delivery: exactly-once" in sink


def test_lsp_hover_shows_a_param_but_never_a_secret_it_read(
    client: LspClient, folder: Path
) -> None:
    text = 'param token = env("RILLET_LSP_TOKEN")\n' + PIPELINE.replace(
        "where status == 200", "where user != token"
    )
    uri, published = open_document(client, folder, text)
    assert published["diagnostics"] == []
    shown = hover_text(client, uri, position(text, "  | where", "token"))
    assert shown == 'param `token` = `env("RILLET_LSP_TOKEN")`'
    offered = labels(client, uri, position(text, "  | where", "user", 0))
    assert SECRET not in str(offered)


def labels(client: LspClient, uri: str, at: dict[str, int]) -> dict[str, str]:
    found = client.request(
        "textDocument/completion", {"textDocument": {"uri": uri}, "position": at}
    )
    return {item["label"]: item.get("detail", "") for item in found["items"]}


def test_lsp_completes_operators_after_a_bar_while_the_text_does_not_parse(
    client: LspClient, folder: Path
) -> None:
    uri, _ = open_document(client, folder, PIPELINE)
    typing = PIPELINE.replace("  | derive late = ts > 100\n", "  | derive late = ts > 100\n  | \n")
    change = {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": typing}]}
    client.notify("textDocument/didChange", change)
    published = client.notification("textDocument/publishDiagnostics", uri=uri, version=2)
    assert [d["code"] for d in published["diagnostics"]] == ["E0002"]
    offered = labels(client, uri, {"line": 12, "character": 4})
    assert {"where", "select", "aggregate", "join", "into", "late into"} <= set(offered)


def test_lsp_completes_the_fields_flowing_into_a_where(client: LspClient, folder: Path) -> None:
    uri, _ = open_document(client, folder, PIPELINE)
    offered = labels(client, uri, position(PIPELINE, "  | where", "status", 0))
    assert {"ts": "int", "user": "str", "status": "int"}.items() <= offered.items()
    assert "late" not in offered  # derived after the `where`
    assert "round" in offered  # functions too
    later = labels(client, uri, position(PIPELINE, "ok | select", "user", 0))
    assert later["late"] == "bool"


def test_lsp_completes_connectors_and_their_arguments(client: LspClient, folder: Path) -> None:
    uri, _ = open_document(client, folder, PIPELINE)
    connectors = labels(client, uri, position(PIPELINE, "sink out", "file", 0))
    assert "file" in connectors and "stdout" in connectors
    typing = PIPELINE.replace('format="jsonl")', 'format="jsonl", )')
    change = {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": typing}]}
    client.notify("textDocument/didChange", change)
    client.notification("textDocument/publishDiagnostics", uri=uri, version=2)
    arguments = labels(client, uri, position(typing, "sink out", ", )", 2))
    assert arguments == {
        "delimiter": "str = ','",
        "header": "bool = True",
        "partition_by": "list[str] = []",
    }  # not those given


def test_lsp_goes_to_the_declaration_of_a_stream(client: LspClient, folder: Path) -> None:
    uri, _ = open_document(client, folder, PIPELINE)
    found = client.request(
        "textDocument/definition",
        {"textDocument": {"uri": uri}, "position": position(PIPELINE, "ok | select", "ok")},
    )
    assert found == {
        "uri": uri,
        "range": {"start": {"line": 9, "character": 7}, "end": {"line": 9, "character": 9}},
    }


def test_lsp_formats_the_document_as_rillet_fmt_does(client: LspClient, folder: Path) -> None:
    untidy = PIPELINE.replace(" | ", "|").replace(" = ", "=", 1)
    assert untidy != PIPELINE
    uri, _ = open_document(client, folder, untidy)
    options = {"tabSize": 2, "insertSpaces": True}
    edits = client.request(
        "textDocument/formatting", {"textDocument": {"uri": uri}, "options": options}
    )
    assert len(edits) == 1
    assert edits[0]["range"]["start"] == {"line": 0, "character": 0}
    assert edits[0]["newText"] == format_text(untidy)
    client.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": uri, "version": 2},
            "contentChanges": [{"text": "source s = file(\n"}],
        },
    )
    client.notification("textDocument/publishDiagnostics", uri=uri, version=2)
    broken = client.request(
        "textDocument/formatting", {"textDocument": {"uri": uri}, "options": options}
    )
    assert broken is None  # the diagnostics say why; nothing is rewritten


def test_lsp_keeps_the_protocol_clean_when_a_used_plugin_prints(
    client: LspClient, folder: Path
) -> None:
    (folder / "noisy.py").write_text(
        "from rillet.runtime.plugin import Plugin\n"
        "print('loading noisy plugin')\n"
        "plugin = Plugin('noisy')\n"
    )
    _, published = open_document(client, folder, 'use "noisy.py"\n' + PIPELINE)
    assert published["diagnostics"] == []
    assert client.stop() == 0
    assert "loading noisy plugin" in client.log.read_text()


def test_lsp_without_its_extra_names_the_pip_install(tmp_path: Path) -> None:
    hide_pygls = (
        "import sys; sys.modules['pygls'] = None; "
        "from rillet.dsl.cli import main; sys.exit(main(['lsp']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", hide_pygls], capture_output=True, text=True, timeout=WAIT_S
    )
    assert done.returncode == 2
    assert done.stderr == "rillet: error: `rillet lsp` needs pygls: pip install 'rillet[lsp]'\n"
