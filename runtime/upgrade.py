"""What resuming a changed pipeline from a checkpoint does with each operator's state, and
whether the outputs already written still fit it.

Each stateful operator of the pipeline as it is now is matched with the saved state by its
identity (`stateid.py`): the state is *kept* when the fingerprint matches, *changed* when the
operator is there but means something else now (a window's size, the `by` keys), *new* when
no state was saved for it; saved state that no operator claims is *dropped*. A resumed run
goes on when nothing would be changed or dropped; otherwise it stops, and names the flag
that accepts it (`--drop-state NAME`: that operator's state starts empty, or is let go).
"""

from __future__ import annotations

from collections.abc import Set

import msgspec
from msgspec import field

from .badrecord import location
from .checkpoint import Manifest, OperatorState, Shape, Shaped
from .compile import operator_name
from .plan import Plan, Sink, Source
from .stateid import identities, shape, shown

KEPT, NEW, CHANGED, DROPPED = "kept", "new", "changed", "dropped"


class Step(msgspec.Struct, frozen=True):
    """One stateful operator, and what a resumed run does with its state."""

    identity: str
    shown: str
    """As the file names it now (as it did, for a dropped one): `aggregate@12`, or its `as`."""
    verdict: str
    node_id: int | None = None
    """The operator's plan node now (None when dropped)."""
    saved_key: str | None = None
    """The key its saved state is under (None: new)."""


class Upgrade(msgspec.Struct, frozen=True):
    """Resuming `checkpoint_id` with the pipeline as it is now."""

    checkpoint_id: int
    steps: list[Step]
    sources_added: list[str] = field(default_factory=list)
    sources_removed: list[str] = field(default_factory=list)
    sinks_added: list[str] = field(default_factory=list)
    sinks_removed: list[str] = field(default_factory=list)
    sinks_changed: list[str] = field(default_factory=list)
    """Sinks something upstream of which changed: what they hold so far came from the
    pipeline as it was."""

    def unaccepted(self, accepted: Set[str]) -> list[Step]:
        """The changed and dropped operators that `--drop-state` does not name."""
        return [
            s
            for s in self.steps
            if s.verdict in (CHANGED, DROPPED) and not {s.shown, s.identity} & accepted
        ]

    def unknown(self, accepted: Set[str]) -> list[str]:
        """`--drop-state` names that match no changed or dropped operator."""
        names = {
            n for s in self.steps if s.verdict in (CHANGED, DROPPED) for n in (s.shown, s.identity)
        }
        return sorted(accepted - names)


def compare(saved: Manifest, plan: Plan) -> Upgrade:
    keys = identities(plan)
    now = shape(plan, keys)
    then, stored = (
        (saved.shape, {k: k for k in saved.operators})
        if saved.shape is not None
        else _unshaped(saved, plan, keys)
    )
    named = {shaped.name: key for key, shaped in then.operators.items() if shaped.name}
    steps, claimed = [], set()
    for node_id, key in keys.items():
        op = now.operators[key]
        saved_key = named.get(op.name, key) if op.name else key  # a name first
        before = then.operators.get(saved_key)
        if before is None or saved_key in claimed:
            steps.append(Step(key, op.shown, NEW, node_id))
            continue
        claimed.add(saved_key)
        verdict = KEPT if before.fingerprint == op.fingerprint else CHANGED
        steps.append(Step(key, op.shown, verdict, node_id, stored.get(saved_key)))
    steps += [
        Step(key, before.shown, DROPPED, saved_key=stored.get(key))
        for key, before in then.operators.items()
        if key not in claimed
    ]
    sources = [n.op.name for n in plan.nodes if isinstance(n.op, Source)]
    sinks = [n.op.name for n in plan.nodes if isinstance(n.op, Sink)]
    return Upgrade(
        saved.checkpoint_id,
        steps,
        sources_added=[s for s in sources if s not in saved.sources],
        sources_removed=[s for s in saved.sources if s not in sources],
        sinks_added=[s for s in sinks if s not in saved.sinks],
        sinks_removed=[s for s in saved.sinks if s not in sinks],
        sinks_changed=[s for s in sinks if s in then.sinks and then.sinks[s] != now.sinks.get(s)],
    )


def _unshaped(saved: Manifest, plan: Plan, keys: dict[int, str]) -> tuple[Shape, dict[str, str]]:
    """A checkpoint from before identities keyed its state by plan node ids and kept no hashes
    of the sinks' paths: each saved state is matched with the operator now at its node id, and
    the sinks are taken as unchanged. Also: the key each state is saved under."""
    nodes = {n.id: n for n in plan.nodes}
    operators, stored = {}, {}
    for node_key, state in saved.operators.items():
        node = nodes.get(int(node_key)) if node_key.isdigit() else None
        key = keys.get(node.id, node_key) if node is not None else f"plan node {node_key}"
        shown_as = shown(node) if node is not None else key
        operators[key], stored[key] = Shaped(state.fingerprint, shown_as), node_key
    return Shape(operators, dict(shape(plan, keys).sinks)), stored


def saved_state(saved: Manifest, step: Step) -> OperatorState | None:
    """The state a kept operator resumes with."""
    if step.verdict != KEPT or step.saved_key is None:
        return None
    return saved.operators.get(step.saved_key)


def mismatch(plan: Plan, upgrade: Upgrade, refused: list[Step], accepted: Set[str]) -> str:
    """Why a resumed run stops, for the first operator whose state it may not let go."""
    unknown = upgrade.unknown(accepted)
    if not refused:
        return (
            f"--drop-state {unknown[0]}: no operator's saved state (checkpoint "
            f"{upgrade.checkpoint_id}) is changed or dropped under that name\n"
            f"  hint: `rillet diff {plan.file}` lists them"
        )
    step = refused[0]
    nodes = {n.id: n for n in plan.nodes}
    if step.node_id is not None:
        node = nodes[step.node_id]
        where = location(plan, node)
        what = (
            f"the state saved for `{operator_name(node)}` (checkpoint {upgrade.checkpoint_id}) "
            "does not fit the pipeline as it is now"
        )
        accept = f"--drop-state {step.shown} starts its state empty"
    else:
        where = plan.file
        what = (
            f"the state saved for `{step.shown}` (checkpoint {upgrade.checkpoint_id}) belongs "
            "to no operator of the pipeline as it is now"
        )
        accept = f"--drop-state {step.shown} lets it go"
    return (
        f"{where}: {what}\n  hint: `rillet diff {plan.file}` shows what resuming would do; "
        f"{accept}; --fresh starts over"
    )
