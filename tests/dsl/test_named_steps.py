"""Steps named with `as` (`| where ... as valid_clicks`): the name reaches the plan, the physical
graph, the run's metrics and the Prometheus labels, and never what a checkpoint's state is
matched by. The graph, explain, parse, plan and diagnostics goldens hold `named_steps.*`."""

from __future__ import annotations

from pathlib import Path

import msgspec
from prometheus_client import generate_latest

from rillet.dsl.parser import parse
from rillet.runtime import plan as ir
from rillet.runtime.clock import SystemClock
from rillet.runtime.compile import compile_plan
from rillet.runtime.monitor.prometheus import Source, registry
from rillet.runtime.monitor.snapshot import topology
from tests.conftest import compile_pipeline, run_pipeline

CLICKS = "".join(
    f'{{"ts": {i * 1000}, "page": "/p{i % 2}", "status": {200 if i % 3 else 500}}}\n'
    for i in range(12)
)

PIPELINE = """\
source clicks = file("clicks.jsonl")
sink out = file("out/out.jsonl")
sink counts = file("out/counts.jsonl")

clicks
  | where status == 200 as valid_clicks
  | derive ok = true
  | into out
clicks
  | event_time ts
  | window tumbling 10s
  | aggregate by page { n = count() } as page_counts
  | into counts
clicks | where status == 500 as failed | derive bad = true as flagged | into out
clicks | where status == 404 | into out
"""


def _physical(tmp_path: Path, text: str = PIPELINE):
    compiled = compile_pipeline(text, tmp_path)
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    assert compiled.plan is not None and compiled.checked is not None
    return compiled.plan, compile_plan(compiled.plan, compiled.checked.registry, SystemClock())


def test_as_after_an_operator_names_it_and_explode_keeps_its_own_as() -> None:
    program, diagnostics = parse("c | where x as ok | explode tags as tag | explode t as u as v\n")
    assert diagnostics == [] and program is not None
    where, explode, named = program.statements[0].ops  # type: ignore[union-attr]
    assert where.named.text == "ok"
    assert (explode.into.text, explode.named) == ("tag", None)
    assert (named.into.text, named.named.text) == ("u", "v")


def test_physical_nodes_are_called_by_the_names_given(tmp_path: Path) -> None:
    plan, physical = _physical(tmp_path)
    names = {n.kind + " " + n.name for n in physical.nodes.values()}
    assert {"stage valid_clicks", "operator page_counts", "stage failed+flagged"} <= names
    assert any(n.startswith("stage where@") for n in names)  # unnamed: operators and line
    assert any(n.startswith("operator event_time@") for n in names)
    assert [n.name for n in plan.nodes if n.name] == [
        "valid_clicks",
        "page_counts",
        "failed",
        "flagged",
    ]


def test_a_name_is_not_part_of_the_operator_a_checkpoint_matches(tmp_path: Path) -> None:
    """Renaming a step keeps its saved state usable: state goes by node id and operator."""
    named, _ = _physical(tmp_path)
    plain, _ = _physical(
        tmp_path,
        PIPELINE.replace(" as page_counts", "")
        .replace(" as valid_clicks", "")
        .replace(" as failed", "")
        .replace(" as flagged", ""),
    )
    assert [n.op for n in named.nodes] == [n.op for n in plain.nodes]
    assert b'"name"' not in msgspec.json.encode(plain.nodes[1])  # unnamed: left out


def test_names_label_the_run_metrics_and_prometheus(tmp_path: Path, write) -> None:
    write("clicks.jsonl", CLICKS)
    metrics = run_pipeline(PIPELINE, tmp_path)
    stages = {m.name: m for m in metrics.by_kind("stage")}
    assert stages["valid_clicks"].records_in == 12 and stages["valid_clicks"].records_out == 8
    assert {m.name for m in metrics.by_kind("operator")} >= {"page_counts"}
    _, physical = _physical(tmp_path)
    exposition = generate_latest(
        registry(Source(topology(physical), metrics, [], lambda: 0, lambda: 0.0))
    ).decode()
    assert 'rillet_records_out_total{kind="stage",node="valid_clicks"} 8.0' in exposition
    assert '{kind="operator",node="page_counts"}' in exposition


def test_unnamed_nodes_keep_no_name_in_the_plan(tmp_path: Path) -> None:
    plan, _ = _physical(tmp_path, 'source s = file("x")\nsink o = stdout()\ns | where a | into o\n')
    assert all(n.name is msgspec.UNSET for n in plan.nodes)
    assert isinstance(plan.nodes[1].op, ir.Where)
