"""The project's documentation stands alone: every link and file path it gives resolves inside
the repository, nothing points at files outside it, and the architecture page names modules that
exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rillet.dsl.codes import CODES
from rillet.dsl.pipeline import compile_text
from tests.conftest import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
SNIPPET = re.compile(r"```rill\n(.*?)```", re.S)
LINTS = sorted(code for code in CODES if code.startswith("W1"))
PLUGINS = REPO / "tests" / "dsl" / "fixtures" / "language"  # the `use "plugins/geo.py"` snippets
MODULE = re.compile(r"`((?:dsl|runtime|stdlib)/(?:monitor/)?[a-z_]+\.(?:py|lark|html))`")
# ```rill keep-layout: a snippet showing layouts `rillet fmt` would change (line breaks the
# language allows), which the check that snippets are formatted leaves alone
RILL_BLOCK = re.compile(r"^```rill( keep-layout)?\n(.*?)^```", re.S | re.M)


def rill_snippets(to_format: bool = False) -> list[tuple[str, str]]:
    """Every ```rill block of the docs (with `to_format`, those not marked `keep-layout`), with
    where it starts (`docs/language.md:113`)."""
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for block in RILL_BLOCK.finditer(text):
            if to_format and block.group(1):
                continue
            line = text.count("\n", 0, block.start()) + 1
            found.append((f"{doc.relative_to(REPO)}:{line}", block.group(2)))
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_links_resolve_inside_the_repository(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    for target in LINK.findall(text):
        if re.match(r"[a-z]+://", target):
            continue
        resolved = (doc.parent / target).resolve()
        assert resolved.is_relative_to(REPO), f"{doc.name} links outside the repository: {target}"
        assert resolved.exists(), f"{doc.name} links to a missing file: {target}"
    assert "../shared" not in text and "shared/DESIGN" not in text


def test_architecture_names_real_modules_and_readme_links_it() -> None:
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(MODULE.findall(text))
    assert len(named) > 40
    assert [m for m in sorted(named) if not (REPO / m).exists()] == []
    for stage in ("parse", "check", "plan", "compile", "run"):
        assert f"**{stage}**" in text
    assert "](docs/architecture.md)" in (REPO / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_rill_snippets_are_lint_clean_or_silenced_with_reason(doc: Path) -> None:
    """A snippet is what readers copy: it must not teach a streaming hazard unremarked. The
    snippets that are fragments (an operator alone) have errors, and so no lints."""
    text = doc.read_text(encoding="utf-8")
    linted = []
    for snippet in SNIPPET.finditer(text):
        line = text.count("\n", 0, snippet.start()) + 2
        compiled = compile_text(snippet.group(1), f"{doc.name}@{line}", PLUGINS)
        linted += [
            f"{doc.name}:{line + d.span.line - 1}: {d.code} {d.message}"
            for d in compiled.diagnostics
            if d.code in LINTS and d.span is not None
        ]
        silences = re.findall(r"# rillet: allow [^\n]*", snippet.group(1))
        assert all(" -- " in c for c in silences), f"a silence without a reason in {doc.name}"
    assert linted == []
