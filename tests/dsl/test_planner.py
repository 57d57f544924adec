"""The planner: one node per operator in topological order, a named stream planned once for
all its readers, `union`, windows folded into their aggregate, pruning of whatever reaches no
sink, params as literals, and a plan that does not depend on Python's hash seed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rillet.runtime import plan as ir
from tests.conftest import REPO, compile_pipeline
from tests.dsl.test_language_snippets import DECLARATIONS, FLOWS

FIXTURES = Path(__file__).parent / "fixtures" / "language"
GOLDEN_PLANS = sorted((Path(__file__).parent / "goldens" / "plan").glob("*.rill"))

HEAD = """\
source clicks = file("data/clicks.jsonl")
source orders = file("data/orders.csv", format="csv")
sink out = stdout()
sink other = file("out/other.jsonl")
"""


def plan_of(text: str, params: dict[str, str] | None = None) -> ir.Plan:
    compiled = compile_pipeline(text, FIXTURES, params)
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    assert compiled.plan is not None
    return compiled.plan


def kinds(plan: ir.Plan) -> list[str]:
    return [type(n.op).__name__ for n in plan.nodes]


def named(plan: ir.Plan, kind: type, name: str) -> ir.Node:
    (node,) = [n for n in plan.nodes if isinstance(n.op, kind) and n.op.name == name]
    return node


def test_stateless_chain_plans_one_node_per_operator_in_order() -> None:
    plan = plan_of(
        HEAD + "clicks | where a | select a, b | derive c = [1, 2] | drop b"
        " | explode c | into out\n"
    )
    assert kinds(plan) == ["Source", "Where", "Select", "Derive", "Drop", "Explode", "Sink"]
    assert [n.inputs for n in plan.nodes] == [(), (0,), (1,), (2,), (3,), (4,), (5,)]


def test_node_carries_the_span_of_its_operator() -> None:
    plan = plan_of(HEAD + "clicks\n  | where a\n  | into out\n")
    where = plan.nodes[1]
    assert where.span == ir.Span(6, 5, 6, 12)


@pytest.mark.parametrize("case", GOLDEN_PLANS, ids=lambda p: p.stem)
def test_nodes_are_numbered_in_order_and_read_only_earlier_nodes(case: Path) -> None:
    plan = plan_of(case.read_text())
    assert [n.id for n in plan.nodes] == list(range(len(plan.nodes)))
    for node in plan.nodes:
        assert all(i < node.id for i in node.inputs), node


def test_named_stream_is_planned_once_for_all_its_readers() -> None:
    plan = plan_of(
        HEAD + "stream ok = clicks | where status == 200\n"
        "ok | select user | into out\nok | select page | into other\n"
    )
    assert kinds(plan) == ["Source", "Where", "Select", "Select", "Sink", "Sink"]
    assert plan.nodes[2].inputs == plan.nodes[3].inputs == (1,)
    assert named(plan, ir.Sink, "out").inputs == (2,)
    assert named(plan, ir.Sink, "other").inputs == (3,)


def test_several_flows_into_one_sink_are_its_inputs_in_order() -> None:
    plan = plan_of(HEAD + "clicks | into out\norders | where x | into out | into other\n")
    assert named(plan, ir.Sink, "out").inputs == (0, 2)
    assert named(plan, ir.Sink, "other").inputs == (2,)


def test_union_reads_each_member_in_order() -> None:
    plan = plan_of(HEAD + "stream ok = clicks | where a\nunion(orders, ok) | into out\n")
    (union,) = [n for n in plan.nodes if isinstance(n.op, ir.Union)]
    assert union.inputs == (named(plan, ir.Source, "orders").id, 2)
    assert named(plan, ir.Sink, "out").inputs == (union.id,)


def test_join_reads_left_then_right() -> None:
    plan = plan_of(HEAD + "clicks | join orders on user within 5m | into out\n")
    (join,) = [n for n in plan.nodes if isinstance(n.op, ir.Join)]
    assert join.op == ir.Join("orders", "user", 300_000)
    assert join.inputs == (named(plan, ir.Source, "clicks").id, named(plan, ir.Source, "orders").id)


def test_window_folds_into_the_aggregate_after_it() -> None:
    plan = plan_of(
        HEAD + "clicks | window sliding 1m every 10s | aggregate by page "
        "{ n = count() } | into out\n"
    )
    assert kinds(plan) == ["Source", "Aggregate", "Sink"]
    aggregate = plan.nodes[1].op
    assert isinstance(aggregate, ir.Aggregate)
    assert aggregate.window == ir.Window("sliding", 60_000, 10_000)
    assert aggregate.keys == ("page",)


def test_late_into_keeps_its_sink_in_the_plan() -> None:
    plan = plan_of(
        HEAD + "clicks | window tumbling 1s | aggregate { n = count() }"
        " | late into other | into out\n"
    )
    aggregate = plan.nodes[1].op
    assert isinstance(aggregate, ir.Aggregate) and aggregate.late_sink == "other"
    assert named(plan, ir.Sink, "other").inputs == ()


def test_flow_ending_in_late_into_is_planned() -> None:
    plan = plan_of(HEAD + "clicks | aggregate { n = count() } | late into other\n")
    assert kinds(plan) == ["Source", "Aggregate", "Sink"]


# -- event time ------------------------------------------------------------------------------


def test_event_time_reaches_the_window_dedupe_and_join_after_it() -> None:
    plan = plan_of(
        HEAD + "stream timed = orders | event_time at\n"
        "clicks | event_time ts lateness 2s | where x | dedupe by user within 1m"
        " | join timed on user within 1s | window tumbling 1m"
        " | aggregate { n = count() } | into out\n"
    )
    dedupe, join, aggregate = (
        n.op for n in plan.nodes if isinstance(n.op, ir.Dedupe | ir.Join | ir.Aggregate)
    )
    assert isinstance(dedupe, ir.Dedupe) and dedupe.time_field == "ts"
    assert isinstance(join, ir.Join) and (join.left_time, join.right_time) == ("ts", "at")
    assert isinstance(aggregate, ir.Aggregate)
    assert (aggregate.time_field, aggregate.lateness_ms) == ("ts", 2000)


def test_without_event_time_windows_use_processing_time() -> None:
    plan = plan_of(HEAD + "clicks | window tumbling 1m | aggregate { n = count() } | into out\n")
    aggregate = plan.nodes[1].op
    assert isinstance(aggregate, ir.Aggregate)
    assert (aggregate.time_field, aggregate.lateness_ms) == (None, 0)


def test_records_made_by_an_aggregate_have_no_event_time() -> None:
    plan = plan_of(
        HEAD + "clicks | event_time ts | window tumbling 1m | aggregate { n = count() }"
        " | window tumbling 1h | aggregate { m = sum(n) } | into out\n"
    )
    first, second = (n.op for n in plan.nodes if isinstance(n.op, ir.Aggregate))
    assert first.time_field == "ts"  # type: ignore[union-attr]
    assert second.time_field is None  # type: ignore[union-attr]


@pytest.mark.parametrize(("members", "expected"), [("a, b", "ts"), ("a, clicks", None)])
def test_union_keeps_event_time_only_when_its_inputs_agree(
    members: str, expected: str | None
) -> None:
    plan = plan_of(
        HEAD + "stream t = clicks | event_time ts\nstream a = t | where x\n"
        f"stream b = t | where y\nunion({members}) | dedupe by user within 1s"
        " | into out\n"
    )
    (dedupe,) = [n.op for n in plan.nodes if isinstance(n.op, ir.Dedupe)]
    assert dedupe.time_field == expected


# -- pruning ---------------------------------------------------------------------------------


def test_flow_without_into_plans_nothing() -> None:
    assert plan_of(HEAD + "clicks | where a | derive b = 1\n").nodes == ()


def test_unread_source_is_not_in_the_plan() -> None:
    plan = plan_of(HEAD + "clicks | into out\n")
    assert [n.op.name for n in plan.nodes] == ["clicks", "out"]  # type: ignore[union-attr]


def test_stream_nobody_reads_is_not_in_the_plan() -> None:
    plan = plan_of(HEAD + "stream unread = orders | where a\nclicks | into out\n")
    assert kinds(plan) == ["Source", "Sink"]


def test_branch_of_a_stream_without_into_is_pruned_but_the_stream_stays() -> None:
    plan = plan_of(HEAD + "stream ok = clicks | where a\nok | derive x = 1\nok | into out\n")
    assert kinds(plan) == ["Source", "Where", "Sink"]


def test_error_sink_stays_while_anything_runs_and_goes_when_nothing_does() -> None:
    text = HEAD + "errors into other\n"
    running = plan_of(text + "clicks | into out\n")
    assert running.error_sink is not None
    assert running.nodes[running.error_sink].op.name == "other"  # type: ignore[union-attr]
    assert plan_of(text).nodes == ()
    assert plan_of(text).error_sink is None


# -- params and settings --------------------------------------------------------------------


def test_params_become_literals_in_expressions() -> None:
    plan = plan_of(
        'param limit = 250\nparam prefix = "/c"\n'
        + HEAD
        + "clicks | where latency_ms > limit | derive p = prefix + page"
        " | aggregate { q = quantile(latency_ms, limit / 1000) } | into out\n"
    )
    where, derive, aggregate = (n.op for n in plan.nodes[1:4])
    assert where == ir.Where(ir.Binary(">", ir.Field(("latency_ms",)), ir.Lit(250)))
    assert derive == ir.Derive((ir.Assign("p", ir.Binary("+", ir.Lit("/c"), ir.Field(("page",)))),))
    assert isinstance(aggregate, ir.Aggregate)
    assert aggregate.fields[0].expr.args[1] == ir.Binary(  # type: ignore[union-attr]
        "/", ir.Lit(250), ir.Lit(1000)
    )


def test_param_override_becomes_the_literal() -> None:
    plan = plan_of(
        "param limit = 250\n" + HEAD + "clicks | where x > limit | into out\n", {"limit": "300"}
    )
    assert plan.nodes[1].op == ir.Where(ir.Binary(">", ir.Field(("x",)), ir.Lit(300)))


def test_plugin_operator_arguments_are_values() -> None:
    plan = plan_of(
        'use "plugins/geo.py"\nparam label = "l"\n'
        + HEAD
        + 'clicks | tag(label=label + "!") concurrency 3 | into out\n'
    )
    assert plan.nodes[1].op == ir.PluginOperator("tag", {"label": "l!"}, 3)


def test_settings_are_in_the_plan() -> None:
    plan = plan_of("set batch_size = 7\nset batch_timeout = 1s\n" + HEAD + "clicks | into out\n")
    assert plan.settings == ir.Settings(batch_size=7, batch_timeout_ms=1000)


def test_plan_names_its_file_and_base_dir() -> None:
    compiled = compile_pipeline(HEAD + "clicks | into out\n", FIXTURES, name="p.rill")
    assert compiled.plan is not None
    assert (compiled.plan.file, compiled.plan.base_dir) == ("p.rill", str(FIXTURES))


def test_snippet_plan_matches_the_language_guide() -> None:
    plan = plan_of(DECLARATIONS.replace("use acme_rillet", "") + FLOWS)
    assert kinds(plan) == [
        "Source",
        "EventTime",
        "Where",
        "Derive",
        "Aggregate",
        "Where",
        "Select",
        "Sink",
        "Sink",
        "Sink",
    ]
    assert plan.error_sink == named(plan, ir.Sink, "rejects").id


# -- determinism -----------------------------------------------------------------------------

DETERMINISM = (
    HEAD
    + """\
stream a = union(x, y, z)
stream x = clicks | where a
stream y = orders | where b
stream z = union(y, x) | join x on k within 1s
a | into out
"""
)

_PRINT_PLAN = """
import sys, msgspec
from pathlib import Path
from rillet.dsl.pipeline import compile_text
plan = compile_text(sys.stdin.read(), "p.rill", Path(".")).plan
sys.stdout.buffer.write(msgspec.json.encode(plan))
"""


def test_plan_does_not_depend_on_the_hash_seed() -> None:
    plans = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", _PRINT_PLAN],
            input=DETERMINISM.encode(),
            capture_output=True,
            env=env,
            cwd=REPO,
            timeout=60,
            check=True,
        )
        plans.add(result.stdout)
    assert len(plans) == 1
