"""`compare`: which saved state each operator of an edited pipeline resumes with — by derived
identity, by a step's name first, and by plan node for a checkpoint from before identities."""

from __future__ import annotations

from pathlib import Path

from rillet.runtime.checkpoint import MANIFEST_VERSION, Manifest, OperatorState, fingerprint
from rillet.runtime.plan import Plan
from rillet.runtime.stateid import identities, shape
from rillet.runtime.upgrade import CHANGED, DROPPED, KEPT, NEW, compare
from tests.conftest import compile_pipeline

HEAD = 'source s = file("in.jsonl")\nsink o = file("o.jsonl")\nsink d = file("d.jsonl")\n'


def windowed(name: str = "") -> str:
    aggregate = f"aggregate by k {{ n = count() }}{name}"
    return f"s | event_time ts | window tumbling 10s | {aggregate} | into o\n"


def planned(text: str, tmp_path: Path) -> Plan:
    compiled = compile_pipeline(HEAD + text, tmp_path)
    assert compiled.ok and compiled.plan is not None, compiled.diagnostics
    return compiled.plan


def checkpoint(plan: Plan) -> Manifest:
    keys = identities(plan)
    nodes = {n.id: n for n in plan.nodes}
    states = {key: OperatorState(fingerprint(nodes[i].op), b"\x90") for i, key in keys.items()}
    return Manifest(MANIFEST_VERSION, 3, 0, False, {}, states, {}, shape=shape(plan, keys))


def verdicts(saved: Manifest, plan: Plan) -> dict[str, str]:
    return {step.shown: step.verdict for step in compare(saved, plan).steps}


def all_verdicts(saved: Manifest, plan: Plan) -> list[tuple[str, str]]:
    return sorted((step.shown, step.verdict) for step in compare(saved, plan).steps)


def test_a_where_added_upstream_keeps_the_state(tmp_path: Path) -> None:
    saved = checkpoint(planned(windowed(""), tmp_path))
    edited = planned(
        windowed("").replace("s | event_time", "s | where k != 1 | event_time"), tmp_path
    )
    assert set(verdicts(saved, edited).values()) == {KEPT}


def test_a_named_step_keeps_its_state_when_a_stateful_step_is_put_before_it(
    tmp_path: Path,
) -> None:
    saved = checkpoint(planned(windowed(" as counts"), tmp_path))
    moved = windowed(" as counts").replace(
        "s | event_time", "s | dedupe by k within 1s | event_time"
    )
    assert all_verdicts(saved, planned(moved, tmp_path)) == [
        ("counts", KEPT),
        ("dedupe@4", NEW),
        ("event_time@4", DROPPED),
        ("event_time@4", NEW),  # it reads from the dedupe now: another event_time
    ]


def test_renaming_a_step_keeps_its_state(tmp_path: Path) -> None:
    saved = checkpoint(planned(windowed(" as counts"), tmp_path))
    renamed = planned(windowed(" as per_key"), tmp_path)
    assert verdicts(saved, renamed)["per_key"] == KEPT


def test_two_alike_operators_are_told_apart_by_their_sinks(tmp_path: Path) -> None:
    both = windowed("") + windowed("").replace("into o", "into d")
    saved = checkpoint(planned(both, tmp_path))
    assert len(saved.operators) == 4
    swapped = windowed("").replace("into o", "into d") + windowed("")
    assert set(verdicts(saved, planned(swapped, tmp_path)).values()) == {KEPT}


def test_a_window_size_changed_is_a_change_of_meaning(tmp_path: Path) -> None:
    saved = checkpoint(planned(windowed(""), tmp_path))
    edited = planned(windowed("").replace("10s", "20s"), tmp_path)
    assert verdicts(saved, edited) == {"event_time@4": KEPT, "aggregate@4": CHANGED}


def test_a_checkpoint_from_before_identities_is_matched_by_plan_node(tmp_path: Path) -> None:
    plan = planned(windowed(""), tmp_path)
    nodes = {n.id: n for n in plan.nodes}
    by_id = {str(i): OperatorState(fingerprint(nodes[i].op), b"\x90") for i in identities(plan)}
    old = Manifest(MANIFEST_VERSION, 3, 0, False, {}, by_id, {})
    upgrade = compare(old, plan)
    assert {s.verdict for s in upgrade.steps} == {KEPT}
    assert {s.saved_key for s in upgrade.steps} == set(by_id)
