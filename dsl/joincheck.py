"""Checking `join`: its keys, each a field of its own side, and the record type after it.

The type after a join is the left's fields, then the right's: a right field whose name is also
a left field is renamed `STREAM_field`, and a key both sides name alike (`on user`) is left out
of the right's, since it equals the left's. A key of two names (`on user = uid`) keeps both
fields, as SQL's `ON l.user = r.uid` keeps both columns.
"""

from __future__ import annotations

import msgspec

from . import ast
from .aggregatecheck import AggregateChecker
from .diagnostic import did_you_mean, error
from .exprcheck import unknown_field
from .types import RecordType


def shared_keys(op: ast.JoinOp) -> set[str]:
    """The keys both sides name alike: the right side's copy is left out of the output."""
    return {k.left.text for k in op.keys if k.right is None or k.right.text == k.left.text}


class JoinChecker(AggregateChecker):
    def join(
        self, op: ast.JoinOp, record: RecordType, right: RecordType | None, line: str
    ) -> RecordType:
        """The record type after `op`, given the left's and the right's (None: unknown
        stream, already reported)."""
        where = "`join`"
        self._mixed_keys(op)
        for key in op.keys:
            self.field(key.left, record, where)
            if right is not None:
                self._right_field(op, key, right)
        if right is None or record.fields is None or right.fields is None:
            return RecordType()
        shared = shared_keys(op)
        merged = dict(record.fields)
        for name, spec in right.fields.items():
            if name not in shared:
                merged[f"{op.stream.text}_{name}" if name in record.fields else name] = spec
        return RecordType(merged, line)

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
