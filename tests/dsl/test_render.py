"""`render.expr` writes plan expressions back as pipeline text that plans to the same IR."""

from __future__ import annotations

from pathlib import Path

import pytest

from rillet.dsl import render
from rillet.runtime import plan as ir
from tests.conftest import compile_pipeline

_EXPRESSIONS = [
    "status == 200",
    "(a or b) and not (c == d)",
    "a or b and c",
    "not not a",
    "-(x + 1) * 2 > (y - 1) - (z - 2)",
    "a - (b - c)",
    "a - b - c",
    "a / (b * c) // 2 % 3",
    "(a ?? b) ?? c",
    "a ?? (b ?? c)",
    "(a ?? 0) + 1",
    "(a == b) == c",
    "(if a then 1 else 2) + 1",
    "if a then b else if c then d else e",
    "-(-x)",
    "- -5",
    "(-x).y",
    "split(a, separator=b)[0].c",
    'this["odd key"].x',
    'this["and"]',
    'page =~ "^/x\\\\d"',
    '(a ?? b) =~ "x"',
    "a not in [1, 2] and b in [3]",
    '{x: 1, "y z": [null, true, 2.5]}',
    '"say \\"hi\\"\\n"',
]


def _lowered(text: str) -> ir.Expr:
    compiled = compile_pipeline(
        f"source s = generate(count=1)\nsink o = stdout()\ns | derive v = {text} | into o\n",
        Path("."),
    )
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    assert compiled.plan is not None
    (derive,) = [n.op for n in compiled.plan.nodes if isinstance(n.op, ir.Derive)]
    return derive.fields[0].expr


@pytest.mark.parametrize("text", _EXPRESSIONS)
def test_rendered_expression_plans_to_the_same_ir(text: str) -> None:
    lowered = _lowered(text)
    assert _lowered(render.expr(lowered)) == lowered


def test_render_writes_no_needless_parentheses() -> None:
    cond = ir.Binary("==", ir.Field(("status",)), ir.Lit(200))
    assert render.expr(cond) == "status == 200"
    assert render.expr(_lowered("(a * b) + (c * d)")) == "a * b + c * d"
    assert render.expr(_lowered("a - (b - c)")) == "a - (b - c)"


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (10_000, "10s"),
        (3_600_000, "1h"),
        (90_000, "90s"),
        (1500, "1500ms"),
        (0, "0ms"),
        (86_400_000, "1d"),
    ],
)
def test_duration_uses_the_largest_exact_unit(ms: int, text: str) -> None:
    assert render.duration(ms) == text


@pytest.mark.parametrize(
    "text",
    [
        "join b on user within 5s",
        "join b on user, page within 5s",
        "join b on user = buyer within 5s",
        "left join b on user = buyer, page = path within 5s",
        "left join b on user",
        "join b on user = user",
    ],
)
def test_rendered_join_plans_to_the_same_join(tmp_path: Path, text: str) -> None:
    def join_of(text: str) -> ir.Join:
        compiled = compile_pipeline(
            'source a = file("a.jsonl")\nsource b = file("b.jsonl")\nsink out = stdout()\n'
            f"a | {text} | into out\n",
            tmp_path,
        )
        assert compiled.plan is not None
        (join,) = [n.op for n in compiled.plan.nodes if isinstance(n.op, ir.Join)]
        return join

    join = join_of(text)
    assert join_of(render.operator(join)) == join
    assert render.operator(join) == text.replace("user = user", "user")
