"""Format every pipeline the repository ships: `examples/*.rill`, `bench/*.rill` and the ```rill
blocks of README.md and docs/*.md (all but those fenced ```rill keep-layout, which show layouts
the formatter would change). Run it after merging: `python scripts/fmt_all.py`; the tests in
tests/dsl/test_fmt_properties.py fail while something is left unformatted."""

from __future__ import annotations

import re
from pathlib import Path

from rillet.dsl.fmt import format_text

REPO = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^```rill\n(.*?)^```", re.S | re.M)


def _rewrite(path: Path, formatted: str) -> None:
    if formatted != path.read_text(encoding="utf-8"):
        path.write_text(formatted, encoding="utf-8")
        print(f"reformatted: {path.relative_to(REPO)}")


def main() -> None:
    for path in sorted([*REPO.glob("examples/*.rill"), *REPO.glob("bench/*.rill")]):
        _rewrite(path, format_text(path.read_text(encoding="utf-8")))
    for doc in [REPO / "README.md", *sorted(REPO.glob("docs/*.md"))]:
        text = doc.read_text(encoding="utf-8")
        _rewrite(doc, BLOCK.sub(lambda m: f"```rill\n{format_text(m.group(1))}```", text))


if __name__ == "__main__":
    main()
