"""Checking `join` and `left join`: its kind, its keys (each a field of its own side), the
record type after it, and warnings for a join that compares event time with the wall clock or
keeps its state forever on an input that may never end.

The type after a join is the left's fields, then the right's: a right field whose name is also
a left field is renamed `STREAM_field`, and a key both sides name alike (`on user`) is left out
of the right's, since it equals the left's. A key of two names (`on user = uid`) keeps both
fields, as SQL's `ON l.user = r.uid` keeps both columns. After a `left join` the right's fields
are optional: a left record without partner has them null.
"""

from __future__ import annotations

import msgspec

from . import ast
from .aggregatecheck import AggregateChecker
from .diagnostic import Diagnostic, did_you_mean, error, warning
from .endless import endless_inputs, first_endless
from .exprcheck import unknown_field
from .types import RecordType

KIND_HINTS = {
    "right": "swap the sides: make `{stream}` the flow, and `left join` the other side to it",
    "inner": "a plain `join` is an inner join: leave out `inner`",
}


def shared_keys(op: ast.JoinOp) -> set[str]:
    """The keys both sides name alike: the right side's copy is left out of the output."""
    return {k.left.text for k in op.keys if k.right is None or k.right.text == k.left.text}


class JoinChecker(AggregateChecker):
    def join(
        self,
        op: ast.JoinOp,
        record: RecordType,
        right: tuple[RecordType | None, ast.EventTimeOp | None],
        line: str,
    ) -> RecordType:
        """The record type after `op`, given the left's and the right's with the event time at
        the right's output (None: unknown stream, already reported)."""
        right_type, right_time = right
        self._kind(op)
        self._mixed_keys(op)
        for key in op.keys:
            self.field(key.left, record, "`join`")
            if right_type is not None:
                self._right_field(op, key, right_type)
        if right_type is not None:
            self._one_sided_time(op, self.c.times.get(op), right_time)
        if right_type is None or record.fields is None or right_type.fields is None:
            return RecordType()
        shared = shared_keys(op)
        merged = dict(record.fields)
        for name, spec in right_type.fields.items():
            if op.kind is not None:
                spec = msgspec.structs.replace(spec, optional=True)
            if name not in shared:
                merged[f"{op.stream.text}_{name}" if name in record.fields else name] = spec
        return RecordType(merged, line)

    def _kind(self, op: ast.JoinOp) -> None:
        if op.kind is None or op.kind.text == "left":
            return
        hint = KIND_HINTS.get(op.kind.text, "a join is `join` (inner) or `left join`")
        self.report(
            error(
                "E0902",
                f"there is no `{op.kind.text} join`",
                op.kind.span,
                "`join` or `left join`",
                hint.format(stream=op.stream.text),
            )
        )

    def _one_sided_time(
        self, op: ast.JoinOp, left: ast.EventTimeOp | None, right: ast.EventTimeOp | None
    ) -> None:
        """`W0902` when one side has event time and the other has not: `within` would compare
        event times with the clock."""
        if op.within is None or (left is None) == (right is None):
            return
        timed = left or right
        assert timed is not None
        side = "left (the flow)" if left is not None else f"right (`{op.stream.text}`)"
        alone = "; a `left join` would write nearly every left record alone" if op.kind else ""
        self.report(
            warning(
                "W0902",
                f"this `{'left join' if op.kind else 'join'}` compares event time on one side "
                "with the wall clock on the other",
                op.within.span,
                f"only the {side} has event time (line {timed.span.line})",
                f"declare `event_time` on both sides, or on neither{alone}",
            )
        )

    def unbounded_joins(self) -> None:
        """`W0901` for each `join` without `within` whose inputs may never end: it keeps every
        record of both sides for as long as they run."""
        live = endless_inputs(self.c, undeclared=True)
        flows = [*self.c.flows, *(s.flow for s in self.c.streams.values())]
        for flow in flows:
            head = flow.head
            reads = [head.text] if isinstance(head, ast.Ident) else [s.text for s in head.streams]
            for op in flow.ops:
                if not isinstance(op, ast.JoinOp):
                    continue
                reads.append(op.stream.text)
                if op.within is not None:
                    continue
                culprit = first_endless(reads, live)
                if culprit is not None:
                    self.report(unbounded_join(op, culprit, self.c.sources[culprit][0]))

    def _right_field(self, op: ast.JoinOp, key: ast.JoinKey, right: RecordType) -> None:
        """A key's field on the right; a shared name the right lacks may be a pair unwritten."""
        name = key.right or key.left
        if right.fields is None or name.text in right.fields:
            return
        problem = unknown_field(name.text, name.span, right, f"`join` (stream `{op.stream.text}`)")
        if key.right is None:
            close = did_you_mean(name.text, right.fields) or "FIELD"
            hint = (
                f"when `{op.stream.text}` names it otherwise, pair them: `on {name.text} = {close}`"
            )
            problem = msgspec.structs.replace(problem, hints=(*problem.hints, hint))
        self.report(problem)

    def _mixed_keys(self, op: ast.JoinOp) -> None:
        """`on a, b = x` pairs `b` with `x` and names `a` on both sides: read as a list of left
        fields and a list of right fields, it would mean something else, so it is refused."""
        bare = [k for k in op.keys if k.right is None]
        paired = [k for k in op.keys if k.right is not None]
        if not bare or not paired:
            return
        self.report(
            error(
                "E0901",
                "`join` keys are either all `left = right` pairs or all names both sides share",
                bare[0].span,
                f"`{key_text(bare[0])}` has no `= FIELD`, but `{key_text(paired[0])}` has one",
                f"pair every key, `on {bare[0].left.text} = FIELD, ...`: each `left = right` is "
                "one key, so `on a, b = x, y` is not two left fields equal to two right ones",
            )
        )


def key_text(key: ast.JoinKey) -> str:
    return key.left.text if key.right is None else f"{key.left.text} = {key.right.text}"


def unbounded_join(op: ast.JoinOp, source: str, decl: ast.SourceDecl) -> Diagnostic:
    hints = [
        "add `within DUR` to pair only records at most DUR apart in event time, each "
        "forgotten once the watermark is DUR past it",
        "on bounded inputs (a file not followed, a broker read with `until_empty=true`) the "
        "state ends with them",
    ]
    if op.kind is not None:
        hints.insert(
            0,
            "a `left join` without `within` writes the left records that found no partner at "
            "the end of input, which a live input never reaches",
        )
    return warning(
        "W0901",
        f"a `{'left join' if op.kind else 'join'}` without `within` keeps every record of both "
        f"sides until the end of input, and source `{source}` may never end",
        op.span,
        f"no `within`: reads `{source}` ({decl.call.name.text}), a live input",
        *hints,
    )
