"""The order streams are checked and planned in: each after the streams it reads."""

from __future__ import annotations

from collections.abc import Iterator

from . import ast
from .checked import Draft
from .diagnostic import Report, error


def flow_streams(flow: ast.Flow) -> list[str]:
    """Names a flow reads, in the order it names them: its head, union members and join
    partners (a list, not a set, so that checking and planning never depend on hashing)."""
    heads = [flow.head] if isinstance(flow.head, ast.Ident) else list(flow.head.streams)
    joined = [op.stream for op in flow.ops if isinstance(op, ast.JoinOp)]
    return list(dict.fromkeys(i.text for i in [*heads, *joined]))


def stream_order(draft: Draft, report: Report) -> list[str]:
    """Streams in dependency order; cycles reported once each and left out.

    A depth-first search with an explicit stack, so a long chain of streams (a generated
    file) cannot exhaust Python's recursion limit."""
    c = draft
    state: dict[str, str] = {}
    order: list[str] = []
    cyclic: set[str] = set()

    def reads(name: str) -> Iterator[str]:
        return (d for d in flow_streams(c.streams[name].flow) if d in c.streams)

    for root in c.streams:
        if root in state:
            continue
        state[root] = "active"
        path, pending = [root], [reads(root)]
        while pending:
            dep = next(pending[-1], None)
            if dep is None:
                pending.pop()
                finished = path.pop()
                state[finished] = "done"
                order.append(finished)
            elif state.get(dep) == "active":
                cycle = path[path.index(dep) :] + [dep]
                cyclic.update(cycle)
                report(
                    error(
                        "E0111",
                        f"stream `{dep}` depends on itself",
                        c.streams[dep].name.span,
                        "cycle: " + " → ".join(cycle),
                        "a stream may only read streams declared without it",
                    )
                )
            elif dep not in state:
                state[dep] = "active"
                path.append(dep)
                pending.append(reads(dep))
    return [n for n in order if n not in cyclic]
