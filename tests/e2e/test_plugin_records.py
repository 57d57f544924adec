"""A plugin operator that declares its records' fields by its return annotation (a TypedDict
or a msgspec Struct): the embedded engine takes a returned Struct as the record it stands for,
alone or in a list, beside dicts; the checker knows the declared fields after the operator."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import compile_pipeline, rillet

PLUGIN = '''
from typing import TypedDict

import msgspec

from rillet.runtime.plugin import Plugin

plugin = Plugin("shapes")


class Sized(msgspec.Struct):
    n: int
    size: str
    tags: list[str] | None = None


class Halved(TypedDict):
    n: int
    half: float


@plugin.operator("sized")
def sized(record: dict, *, big: int = 3) -> Sized | list[Sized] | None:
    """None for 1, a Struct for 2 and 3, a list of a Struct and a dict above."""
    n = record["n"]
    if n == 1:
        return None
    if n <= big:
        return Sized(n, "small")
    return [Sized(n, "big", ["x"]), {"n": n, "size": "copy", "tags": None}]


@plugin.operator("halved", batch=True)
def halved(records: list) -> list[Halved]:
    """A dict per record, declared as a TypedDict."""
    return [Halved(n=r["n"], half=r["n"] / 2) for r in records]


@plugin.operator("untyped")
def untyped(record: dict) -> dict:
    """Declares nothing: any field may follow."""
    return record
'''


def _folder(tmp_path: Path) -> Path:
    (tmp_path / "shapes.py").write_text(PLUGIN)
    (tmp_path / "nums.jsonl").write_text("".join(f'{{"n": {n}}}\n' for n in range(1, 5)))
    return tmp_path


def _pipeline(flow: str) -> str:
    return 'use "shapes.py"\nsource s = file("nums.jsonl")\nsink o = stdout()\n' + flow + "\n"


def test_a_returned_struct_is_a_record_alone_or_in_a_list_beside_dicts(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "p.rill").write_text(_pipeline("s | sized(big=3) | into o"))
    result = rillet("run", "-q", "p.rill", cwd=folder)
    assert result.returncode == 0, result.stderr.decode()
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        {"n": 2, "size": "small", "tags": None},
        {"n": 3, "size": "small", "tags": None},
        {"n": 4, "size": "big", "tags": ["x"]},
        {"n": 4, "size": "copy", "tags": None},
    ]


def test_a_batch_function_declared_by_a_typeddict_runs_as_before(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "p.rill").write_text(_pipeline("s | halved() | where half > 1 | into o"))
    result = rillet("run", "-q", "p.rill", cwd=folder)
    assert result.returncode == 0, result.stderr.decode()
    assert [json.loads(line)["half"] for line in result.stdout.splitlines()] == [1.5, 2.0]


def test_the_checker_knows_the_declared_fields_after_the_operator(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    text = _pipeline("s | sized() | select n, sise | into o")
    compiled = compile_pipeline(text, folder)
    (problem,) = compiled.diagnostics
    assert (problem.code, problem.message) == ("E0202", "unknown field `sise` in `select`")
    assert problem.span is not None and problem.span.line == 4
    assert problem.label == "did you mean `size`? (`sized` returns `Sized`)"


def test_the_declared_field_types_are_checked_downstream(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    compiled = compile_pipeline(_pipeline("s | halved() | derive m = half + size | into o"), folder)
    assert [d.code for d in compiled.diagnostics] == ["E0202"]
    compiled = compile_pipeline(_pipeline("s | sized() | explode size | into o"), folder)
    assert [d.code for d in compiled.diagnostics] == ["E0301"]
    compiled = compile_pipeline(_pipeline("s | sized() | explode tags | into o"), folder)
    assert compiled.ok, [d.message for d in compiled.diagnostics]


def test_an_operator_that_declares_nothing_lets_any_field_follow(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    compiled = compile_pipeline(_pipeline("s | untyped() | select anything | into o"), folder)
    assert compiled.ok, [d.message for d in compiled.diagnostics]
