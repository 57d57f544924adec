"""Checking `top` and a window's `emit every`.

`top` keeps whole records, so it adds fields to the record rather than making new ones: `rank`,
and after a window its bounds (and `final` with `emit every`); the bounds replace the record's
own (the rows of a windowed `aggregate`, windowed again to be ranked). Without a window it
emits at the end of its input, so on an input known never to end it would never emit: an error,
found from what each source declares (`endless.py`: a `file` with `follow=true`, a broker
without `until_empty`, `generate` without `count`).
"""

from __future__ import annotations

from rillet.runtime.plan import TypeSpec

from . import ast, render
from .aggregatecheck import AggregateChecker
from .diagnostic import error
from .types import RecordType, describe

ORDERABLE = ("int", "float", "str", "bool", "any")


class TopChecker(AggregateChecker):
    def top(
        self,
        op: ast.TopOp,
        record: RecordType,
        window: ast.WindowOp | None,
        endless: str | None,
        line: str,
    ) -> RecordType:
        """The record with `rank` (and the window's fields) added; errors for a count below 1,
        a missing `by`, fields that are not there or cannot be ordered, and a `top` without a
        window on an input that never ends."""
        if op.count.value < 1:
            self.report(error("E0503", "`top` must keep at least 1 record", op.count.span))
        if not op.order:
            self._no_order(op)
        for item in op.order:
            self._orderable(item.field, record)
        for key in op.per:
            self.field(key, record, "`top`")
        if window is None and endless is not None:
            self._endless(op, endless)
        bounds, tail = {}, {"rank": TypeSpec("int")}
        if window is not None:
            bounds = {"window_start": TypeSpec("int"), "window_end": TypeSpec("int")}
            if window.emit_every is not None:
                tail["final"] = TypeSpec("bool")
        if record.fields is None:
            return record
        for name in tail:  # a record's own window fields are replaced: rows ranked again
            if name in record.fields:
                self.report(
                    error(
                        "E0504",
                        f"`{name}` is already a field of the record",
                        op.span,
                        f"`top` adds `{name}` to the records it keeps",
                        f"rename it first (`| derive old_{name} = {name} | drop {name}`), or "
                        "`drop` it",
                    )
                )
        return RecordType({**bounds, **record.fields, **tail}, line)

    def _no_order(self, op: ast.TopOp) -> None:
        per = f" per {', '.join(k.text for k in op.per)}" if op.per else ""
        self.report(
            error(
                "E0509",
                "`top` needs `by`: the fields its records are ranked by",
                op.span,
                "ranked by what?",
                f"for example `top {op.count.value} by price desc{per}`: `desc` (the default) "
                "keeps the largest values, `asc` the smallest",
            )
        )

    def _orderable(self, field: ast.Ident, record: RecordType) -> None:
        if not self.field(field, record, "`top`"):
            return
        kind = record.field_type(field.text)
        if kind not in ORDERABLE:
            self.report(
                error(
                    "E0301",
                    f"`top` orders by numbers, text or booleans; `{field.text}` is "
                    f"{describe(kind)}",
                    field.span,
                )
            )

    def _endless(self, op: ast.TopOp, source: str) -> None:
        self.report(
            error(
                "E0510",
                "`top` without a window on an input that never ends",
                op.span,
                f"source `{source}` never ends, so this `top` would never emit",
                "put a window before it: `| window tumbling 1m | top ...` ranks each minute",
                "to rank the rows of a windowed `aggregate`, window them again: "
                "`| event_time window_start | window tumbling 1m | top ...`",
            )
        )

    def emit_every(self, window: ast.WindowOp) -> None:
        """`emit every` on a window: longer than 0, and not on sessions."""
        every = window.emit_every
        if every is None:
            return
        if every.ms <= 0:
            self.report(error("E0503", "`emit every` must be longer than 0", every.span))
        if window.kind == "session":
            self.report(
                error(
                    "E0511",
                    "`emit every` works on tumbling and sliding windows, not on sessions",
                    every.span,
                    "a session's bounds move as it grows and merges",
                    "an early row of a session could not be replaced by the next one: use "
                    "`window tumbling` or `window sliding` for early results",
                )
            )

    def stray_emit(self, op: ast.EmitOp, previous: ast.Operator | None) -> None:
        """`| emit every DUR` on its own: after a window it belongs on the window's line;
        elsewhere there is no window to emit early."""
        every = render.duration(op.every.ms)
        if isinstance(previous, ast.WindowOp):
            size = render.duration(previous.size.ms)
            shape = {"sliding": f"sliding {size} every ...", "session": f"session gap {size}"}
            window = f"window {shape.get(previous.kind, f'{previous.kind} {size}')}"
            self.report(
                error(
                    "E0511",
                    "`emit every` belongs on the window's line",
                    op.span,
                    "not a step of its own",
                    f"write `| {window} emit every {every}`",
                )
            )
            return
        self.report(
            error(
                "E0511",
                "`emit every` needs a window",
                op.span,
                "there is no window here to emit early",
                f"emit each window's rows as it fills: `| window tumbling 1m emit every {every} "
                "| aggregate ...`; an `aggregate` without a window emits once, when its input "
                "ends",
            )
        )
