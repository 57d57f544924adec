"""The real TextMate tokenizer of VS Code (vscode-textmate on Oniguruma), run under node.

`editors/vscode/test/tokenize.mjs` tokenizes files with `syntaxes/rill.tmLanguage.json`; the
`tokenize` fixture installs its exact npm packages once (`npm ci`) and hands the tests its tokens.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO

EDITOR = REPO / "editors" / "vscode"


@dataclass(frozen=True)
class TmToken:
    """One token as VS Code colours it: 0-based line and column, its text and scope stack."""

    line: int
    start: int
    text: str
    scopes: tuple[str, ...]

    def has(self, prefix: str) -> bool:
        return any(scope.startswith(prefix) for scope in self.scopes)


Tokenize = Callable[..., list[list[TmToken]]]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"the TextMate grammar tests need `{name}` (node and npm): "
            "`bash scripts/install-system-packages.sh` installs them",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def tokenize(tmp_path_factory: pytest.TempPathFactory) -> Tokenize:
    """`tokenize(text_or_path, ...)`: each file's tokens, by one run of the node tokenizer."""
    node, npm = _tool("node"), _tool("npm")
    if not (EDITOR / "node_modules").is_dir():
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=EDITOR,
            capture_output=True,
            text=True,
            timeout=100,
        )
        assert installed.returncode == 0, f"`npm ci` in {EDITOR} failed:\n{installed.stderr}"
    snippets = tmp_path_factory.mktemp("snippets")

    def run(*sources: str | Path) -> list[list[TmToken]]:
        paths = []
        for number, source in enumerate(sources):
            if isinstance(source, str):
                path = snippets / f"snippet{number}.rill"
                path.write_text(source)
                source = path
            paths.append(str(source))
        done = subprocess.run(
            [node, "test/tokenize.mjs", *paths],
            cwd=EDITOR,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        found = json.loads(done.stdout)
        return [
            [
                TmToken(token["line"], token["start"], token["text"], tuple(token["scopes"]))
                for token in found[path]
            ]
            for path in paths
        ]

    return run
