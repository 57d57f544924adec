"""`rillet test`: running a pipeline file's `test` blocks.

Each block replaces the sources it names with its `given` records (other sources are empty),
runs the plan to the end of that input with every sink kept in memory, and compares each
`expect`ed sink: as a multiset unless `ordered`. Records compare exactly, except records of the
error sink, which match when every field the expectation names has that value (so a test need
not repeat the file position or the raw input).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anyio
import msgspec

from rillet.runtime import execute, first_failure
from rillet.runtime.memory import MemorySink, MemorySource
from rillet.runtime.plan import Sink, Source
from rillet.runtime.schema import Schema

from . import ast
from .checked import Checked
from .constant import evaluate


@dataclass
class TestResult:
    name: str
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def _normal(value: Any) -> Any:
    """A value as JSON would carry it, so 1 and 1.0, tuples and lists compare alike."""
    return msgspec.json.decode(msgspec.json.encode(value))


def _text(record: Any) -> str:
    return msgspec.json.encode(record).decode()


def _matches(expected: dict, actual: dict, partial: bool) -> bool:
    if partial:
        return all(k in actual and actual[k] == v for k, v in expected.items())
    return expected == actual


def compare(expected: list[dict], actual: list[dict], ordered: bool, partial: bool) -> list[str]:
    """Lines describing how `actual` differs from `expected` (empty when they agree)."""
    expected, actual = _normal(expected), _normal(actual)
    lines = []
    if ordered:
        for index in range(max(len(expected), len(actual))):
            want = expected[index] if index < len(expected) else None
            got = actual[index] if index < len(actual) else None
            if want is not None and got is not None and _matches(want, got, partial):
                continue
            if want is not None:
                lines.append(f"    - [{index}] {_text(want)}")
            if got is not None:
                lines.append(f"    + [{index}] {_text(got)}")
        return lines
    remaining = list(actual)
    missing = []
    for want in expected:
        found = next((i for i, got in enumerate(remaining) if _matches(want, got, partial)), None)
        if found is None:
            missing.append(want)
        else:
            remaining.pop(found)
    lines += [f"    - {_text(r)}   (expected, not written)" for r in missing]
    lines += [f"    + {_text(r)}   (written, not expected)" for r in remaining]
    return lines


def run_test(checked: Checked, plan, test: ast.TestDecl) -> TestResult:
    result = TestResult(test.name)
    given = {
        g.source.text: evaluate(g.value, checked.params, "given records", checked.env)
        for g in test.given
    }
    sources, sinks = {}, {}
    for node in plan.nodes:
        if isinstance(node.op, Source):
            schema = Schema(node.op.schema) if node.op.schema else None
            sources[node.op.name] = MemorySource(
                given.get(node.op.name, []), schema, plan.settings.batch_size
            )
        elif isinstance(node.op, Sink):
            sinks[node.op.name] = MemorySink()
    try:
        anyio.run(lambda: execute(plan, checked.registry, sources=sources, sinks=sinks))
    except BaseException as e:
        failure = first_failure(e)
        if failure is None:
            raise
        result.failures.append(f"  the run failed: {failure}")
        return result
    for expect in test.expect:
        wanted = evaluate(expect.value, checked.params, "expected records", checked.env)
        written = sinks[expect.sink.text].records if expect.sink.text in sinks else []
        partial = expect.sink.text == checked.error_sink
        diff = compare(wanted, written, expect.ordered, partial)
        if diff:
            how = "in order" if expect.ordered else "in any order"
            result.failures.append(
                f"  sink `{expect.sink.text}` ({how}): "
                f"{len(written)} written, {len(wanted)} expected"
            )
            result.failures += diff
    return result
