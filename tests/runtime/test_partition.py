"""The plan a worker runs: a shuffle cut before every input of every keyed operator, nothing
else changed, ids in topological order; and partitions that agree between processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rillet.runtime.partition import partition_of, partition_plan
from rillet.runtime.plan import Aggregate, EventTime, Join, Sink, Source, Where
from tests.conftest import compile_pipeline

SHUFFLE = "shuffle"

PIPELINE = """source clicks = file("clicks.jsonl")
source orders = file("orders.jsonl")
sink out = file("out.jsonl")
sink joined = file("joined.jsonl")
sink bad = file("bad.jsonl")
errors into bad
stream timed = clicks | event_time ts lateness 2s
timed | where status == 200 | window tumbling 10s | aggregate by user { n = count() } | into out
orders | event_time ts | join timed on user within 1s | into joined
"""


def test_a_shuffle_is_cut_before_each_input_of_each_keyed_operator(tmp_path: Path) -> None:
    compiled = compile_pipeline(PIPELINE, tmp_path)
    assert compiled.plan is not None
    plan, shuffles = partition_plan(compiled.plan, "redis://127.0.0.1:1", "rillet:g", SHUFFLE)
    assert [n.id for n in plan.nodes] == list(range(len(plan.nodes)))
    for node in plan.nodes:
        assert all(i < node.id for i in node.inputs), "topological order"
    by_name = {s.name: s for s in shuffles}
    assert sorted(s.keys for s in shuffles) == [("user",), ("user",), ("user",)]
    for node in plan.nodes:
        if isinstance(node.op, Aggregate | Join):
            for port in node.inputs:  # each input of a keyed operator reads a shuffle
                feeding = plan.nodes[port].op
                assert isinstance(feeding, Source) and feeding.connector == SHUFFLE
                assert feeding.name in by_name
                assert feeding.config == {"broker": "redis://127.0.0.1:1", "prefix": "rillet:g"}
        if isinstance(node.op, Sink) and node.op.connector == SHUFFLE:
            (upstream,) = node.inputs
            assert isinstance(plan.nodes[upstream].op, Where | EventTime)
            assert node.op.config["keys"] == ["user"]
    original = [type(n.op) for n in compiled.plan.nodes]
    kept = [type(n.op) for n in plan.nodes if getattr(n.op, "connector", None) != SHUFFLE]
    assert kept == original
    assert isinstance(plan.nodes[plan.error_sink].op, Sink)
    assert plan.nodes[plan.error_sink].op.name == "bad"


def test_partitions_are_the_same_in_every_process() -> None:
    records = [{"user": u, "page": f"/p{u % 7}"} for u in range(200)]
    here = [partition_of(r, ("user", "page"), 4) for r in records]
    assert set(here) == {0, 1, 2, 3}
    code = (
        "from rillet.runtime.partition import partition_of\n"
        "print([partition_of({'user': u, 'page': f'/p{u % 7}'}, ('user', 'page'), 4) "
        "for u in range(200)])"
    )
    elsewhere = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123"},
    )
    assert elsewhere.stdout.strip() == str(here)
    assert partition_of({}, (), 4) == partition_of({"x": 1}, (), 4), "no keys: one partition"


def test_a_join_shuffles_each_side_by_its_own_keys_so_equal_keys_meet(tmp_path: Path) -> None:
    text = PIPELINE.replace("join timed on user", "join timed on buyer = user, page = path")
    compiled = compile_pipeline(text, tmp_path)
    assert compiled.plan is not None
    (join,) = [n for n in compiled.plan.nodes if isinstance(n.op, Join)]
    _, shuffles = partition_plan(compiled.plan, "redis://127.0.0.1:1", "rillet:g", SHUFFLE)
    by_name = {s.name: s.keys for s in shuffles}
    assert by_name[f"shuffle{join.id}.0"] == ("buyer", "page")  # the left, the flow
    assert by_name[f"shuffle{join.id}.1"] == ("user", "path")  # the right, `timed`
    for buyer, page in [(1, "/a"), (2, None), ("7", "/b"), (None, None)]:
        order = {"buyer": buyer, "page": page, "user": "someone else", "path": "/elsewhere"}
        click = {"user": buyer, "path": page, "buyer": -1, "page": "/other"}
        for workers in (2, 3, 8):
            left = partition_of(order, ("buyer", "page"), workers)
            assert left == partition_of(click, ("user", "path"), workers)
