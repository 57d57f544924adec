"""`rillet diff FILE`: what resuming the pipeline as it is now from its newest checkpoint would
do, operator by operator (`runtime/upgrade.py`), and whether what the sinks already hold still
fits it. Reads the checkpoints; changes nothing."""

from __future__ import annotations

import argparse

from rillet.runtime.upgrade import CHANGED, DROPPED, KEPT, NEW, Step, Upgrade, compare

from .invocation import EXIT_OK, EXIT_USAGE, params_of, report
from .pipeline import compile_file
from .workers import checkpoint_store


def cmd_diff(args: argparse.Namespace) -> int:
    compiled = compile_file(args.file, params_of(args.param))
    if not compiled.ok or compiled.plan is None or compiled.checked is None:
        report(compiled, False)
        return EXIT_USAGE
    saved = checkpoint_store(args, compiled.checked.registry).latest()
    if saved is None:
        print(f"rillet: no checkpoints for {args.file}: a run starts from the beginning")
        return EXIT_OK
    upgrade = compare(saved, compiled.plan)
    print("\n".join(render(upgrade, args.file, before_identities=saved.shape is None)))
    return EXIT_OK


def render(upgrade: Upgrade, file: str, before_identities: bool = False) -> list[str]:
    lines = [f"resuming {file} from checkpoint {upgrade.checkpoint_id}:"]
    if before_identities:
        lines.append(
            "  (a checkpoint from before operator identities: operators are matched by their "
            "place in the plan)"
        )
    rows = [(f"{s.shown}", _verdict(s)) for s in upgrade.steps]
    rows += [(f"source {n}", "added: read from its beginning") for n in upgrade.sources_added]
    rows += [(f"source {n}", "removed: its position is let go") for n in upgrade.sources_removed]
    rows += [
        (f"sink {n}", f"added: gets what is written from checkpoint {upgrade.checkpoint_id} on")
        for n in upgrade.sinks_added
    ]
    rows += [(f"sink {n}", "removed: keeps what it holds") for n in upgrade.sinks_removed]
    rows += [
        (
            f"sink {n}",
            "changed upstream: what it holds so far came from the pipeline as it was "
            "(--fresh rewrites it)",
        )
        for n in upgrade.sinks_changed
    ]
    width = max((len(name) for name, _ in rows), default=0)
    lines += [f"  {name:<{width}}  {what}" for name, what in rows]
    needed = [s.shown for s in upgrade.unaccepted(set())]
    if needed:
        flags = " ".join(f"--drop-state {name}" for name in needed)
        lines.append(f"a resumed run stops here; {flags} accepts it, --fresh starts over")
    else:
        lines.append("a resumed run goes on with the state above")
    return lines


def _verdict(step: Step) -> str:
    return {
        KEPT: "state kept",
        NEW: "new: state starts empty",
        CHANGED: "changed: state starts empty (needs --drop-state)",
        DROPPED: "removed: state let go (needs --drop-state)",
    }[step.verdict]
