"""`Origins`: how far back the input behind each checkpoint's output reaches, through state
held by operators one after another, across a resume, and for checkpoints taken before
lineage was kept."""

from __future__ import annotations

from rillet.runtime.checkpoint import MANIFEST_VERSION, Manifest, OperatorState
from rillet.runtime.lineage import Origins

CHAIN = {"a": [], "b": ["a"]}  # source -> a -> b -> sink o; source -> sink p
SINKS = {"o": ["b"], "p": []}


def held(**by_key: int | None) -> dict[str, OperatorState]:
    return {key: OperatorState("f", b"", h) for key, h in by_key.items()}


def test_a_stateless_path_reaches_its_own_checkpoint_only() -> None:
    origins = Origins(CHAIN, SINKS, [], None)
    for n in range(1, 5):
        _, sinks = origins.complete(n, held(a=None, b=None))
        assert sinks == {"o": n, "p": n}


def test_state_carried_reaches_back_to_where_it_was_built() -> None:
    origins = Origins(CHAIN, SINKS, [], None)
    origins.complete(1, held(a=1, b=None))  # a holds what it read in 1
    origins.complete(2, held(a=1, b=None))
    _, sinks = origins.complete(3, held(a=3, b=None))  # a emitted in 3 from state since 1
    assert sinks == {"o": 1, "p": 3}
    _, sinks = origins.complete(4, held(a=None, b=None))
    assert sinks == {"o": 3, "p": 4}


def test_state_downstream_of_state_reaches_back_through_both() -> None:
    origins = Origins(CHAIN, SINKS, [], None)
    origins.complete(1, held(a=1, b=None))
    origins.complete(2, held(a=2, b=2))  # b keeps what a emitted in 2, which reached back to 1
    _, sinks = origins.complete(3, held(a=3, b=2))
    assert sinks["o"] == 1
    _, sinks = origins.complete(4, held(a=None, b=None))  # b emits its state from 2
    assert sinks["o"] == 1
    _, sinks = origins.complete(5, held(a=None, b=None))
    assert sinks["o"] == 5


def test_a_resumed_run_goes_on_from_the_history() -> None:
    first = Origins(CHAIN, SINKS, [], None)
    saved = []
    for n, state in [(1, held(a=1, b=None)), (2, held(a=2, b=None))]:
        operators, sinks = first.complete(n, state)
        saved.append(Manifest(MANIFEST_VERSION, n, 0, False, {}, operators, {}, origins=sinks))
    resumed = Origins(CHAIN, SINKS, saved, saved[-1])
    _, sinks = resumed.complete(3, held(a=None, b=None))
    assert sinks == {"o": 2, "p": 3}


def test_a_checkpoint_from_before_lineage_reaches_back_to_the_start() -> None:
    old = Manifest(MANIFEST_VERSION, 7, 0, False, {}, {"a": OperatorState("f", b"\x90")}, {})
    origins = Origins(CHAIN, SINKS, [], old)
    _, sinks = origins.complete(8, held(a=None, b=None))
    assert sinks == {"o": 1, "p": 8}
