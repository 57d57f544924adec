"""Diagnostic codes live in one table (`dsl/codes.py`): every code the front end reports is in
it, and the reference (docs/language.md §11.3) lists every code of it."""

from __future__ import annotations

import re

from rillet.dsl.codes import CODES
from tests.conftest import REPO

CODE = re.compile(r"[EW]\d{4}")


def documented() -> set[str]:
    text = (REPO / "docs" / "language.md").read_text()
    table = text[text.index("### 11.3 Codes") :]
    table = table[: table.index("\n---")]
    codes: set[str] = set()
    for row in table.splitlines():
        cell = row.split("|")[1] if row.startswith("| `") else ""
        for first, last in re.findall(r"`([EW]\d{4})`–`([EW]\d{4})`", cell):
            codes |= {f"{first[0]}{n:04d}" for n in range(int(first[1:]), int(last[1:]) + 1)}
        codes |= set(CODE.findall(cell))
    return codes


def test_every_code_reported_is_in_the_table() -> None:
    used = {c for p in (REPO / "dsl").glob("*.py") for c in CODE.findall(p.read_text())}
    assert used - set(CODES) == set()


def test_the_reference_lists_every_code_and_no_other() -> None:
    assert documented() == set(CODES)
