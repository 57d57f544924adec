"""`join` as the checker sees it, beyond the diagnostics goldens: which inputs count as live for
the warning on a join without `within` (`W0901`), and the record type after a join."""

from __future__ import annotations

from pathlib import Path

import pytest

from rillet.dsl.types import RecordType
from rillet.runtime import plan as ir
from tests.conftest import compile_pipeline

SINK = 'sink out = stdout()\nsource other = file("other.jsonl")\n'


def warnings(text: str, base_dir: Path) -> list[str]:
    compiled = compile_pipeline(text, base_dir)
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    return [d.code for d in compiled.diagnostics if d.code.startswith("W09")]


@pytest.mark.parametrize(
    ("source", "live"),
    [
        ('file("in.jsonl")', False),
        ('file("in.jsonl", follow=true)', True),
        ("generate(count=10)", False),
        ("generate()", True),
        ('redis_stream("redis://127.0.0.1:1", "s", until_empty=true)', False),
        ('redis_stream("redis://127.0.0.1:1", "s")', True),
        ('kafka("127.0.0.1:1", "t", until_empty=true)', False),
        ('kafka("127.0.0.1:1", "t")', True),
        ("stdin()", True),
    ],
)
@pytest.mark.parametrize("side", ["left", "right", "both"])
def test_a_join_without_within_warns_only_on_an_input_that_may_never_end(
    tmp_path: Path, source: str, live: bool, side: str
) -> None:
    left = "s" if side in ("left", "both") else "other"
    right = "s" if side in ("right", "both") else "other"
    if left == right:
        right = "again"
    text = (
        f"{SINK}source s = {source}\nstream again = s | where true\n"
        f"{left} | join {right} on user | into out\n"
        f"{left} | join {right} on user within 1s | into out\n"
    )
    assert warnings(text, tmp_path) == (["W0901"] if live else [])


def test_a_live_input_is_found_through_streams_and_earlier_joins(tmp_path: Path) -> None:
    text = (
        f"{SINK}source live = generate()\nstream a = union(other, live) | where true\n"
        "stream b = other | join a on user within 1s\n"
        "b | join other on user | into out\n"  # `b` reads `live` through `a`
        "other | join other on user | join b on user within 1s | into out\n"  # the first: no
    )
    compiled = compile_pipeline(text, tmp_path)
    found = [(d.code, d.span.line if d.span else 0) for d in compiled.diagnostics]
    assert found == [("W0901", 6)]


SCHEMAS = """schema Click { ts: int, user: int, page: str }
schema Order { ts: int, buyer: int, page: str, amount: float }
source clicks: Click = file("clicks.jsonl")
source orders: Order = file("orders.jsonl")
sink out = stdout()
"""


@pytest.mark.parametrize(
    ("on", "fields"),
    [
        ("user = buyer", ["ts", "user", "page", "orders_ts", "buyer", "orders_page", "amount"]),
        ("user = buyer, page = page", ["ts", "user", "page", "orders_ts", "buyer", "amount"]),
    ],
)
def test_the_record_after_a_join_keeps_a_key_of_two_names_once_per_side(
    tmp_path: Path, on: str, fields: list[str]
) -> None:
    text = SCHEMAS + f"clicks | join orders on {on} within 1s | into out\n"
    compiled = compile_pipeline(text, tmp_path)
    assert compiled.checked is not None and compiled.plan is not None
    (join,) = [n for n in compiled.plan.nodes if isinstance(n.op, ir.Join)]
    after = [t for op, t in compiled.checked.types.items() if type(op).__name__ == "JoinOp"]
    assert len(after) == 1 and isinstance(after[0], RecordType)
    assert list(after[0].fields or {}) == fields
    assert join.op.right_keys[0] == "buyer"
