"""Checking the operators that compute aggregates: `aggregate`, which makes new records of its
keys and items, and `rolling`, which passes each record on with its items added. Both check
their keys and items alike (aggregate calls only in the items, other fields only as keys); a
`rolling` also needs event time, since it orders each key's records by it."""

from __future__ import annotations

from rillet.runtime.plan import TypeSpec

from . import ast
from .diagnostic import error
from .exprcheck import Scope, unknown_field
from .pluginopcheck import PluginOperatorChecker
from .types import RecordType, spec_of


class AggregateChecker(PluginOperatorChecker):
    def field(self, ident: ast.Ident, record: RecordType, where: str) -> bool:
        """Whether the record may have this field; reports it when it cannot."""
        if record.fields is None or ident.text in record.fields:
            return True
        self.report(unknown_field(ident.text, ident.span, record, where))
        return False

    def aggregate(
        self,
        keys: tuple[ast.Ident, ...],
        items: tuple[ast.Assignment, ...],
        record: RecordType,
        window: ast.WindowOp | None,
        line: str,
    ) -> RecordType:
        """The output's fields: the window's, the keys, the items, and `final` for a window
        that emits early."""
        where = "`aggregate`"
        fields: dict[str, TypeSpec] = {}
        for key in keys:
            self.field(key, record, where)
            fields[key.text] = (record.fields or {}).get(key.text, TypeSpec("any", True))
        if window is not None:
            fields["window_start"] = fields["window_end"] = TypeSpec("int")
        final = {"final": TypeSpec("bool")} if window is not None and window.emit_every else {}
        taken = {**fields, **final}
        fields.update(self._items(keys, items, record, taken, where, "the aggregate's output"))
        return RecordType({**fields, **final}, line)

    def rolling(
        self, op: ast.RollingOp, record: RecordType, time: ast.EventTimeOp | None, line: str
    ) -> RecordType:
        """The record with the items added; an error when no event time is in effect, or an
        item would replace one of the record's fields."""
        where = "`rolling`"
        if time is None:
            self.report(
                error(
                    "E0508",
                    "`rolling` needs event time, and none is in effect here",
                    op.span,
                    "these records have no event time",
                    "declare it before: `| event_time FIELD lateness DUR`",
                    "`rolling` orders each key's records by event time, so it needs one on "
                    "bounded and live inputs alike",
                )
            )
        if op.last is not None and op.last.value < 1:
            self.report(error("E0503", "`rolling last` must count at least 1 record", op.last.span))
        for key in op.keys:
            self.field(key, record, where)
        taken = dict(record.fields or {})
        clash = (
            "`rolling` keeps the record's fields",
            "name it otherwise, or `drop` the field first",
        )
        items = self._items(op.keys, op.items, record, taken, where, "the record", clash)
        return record.with_fields(items, line)

    def _items(
        self,
        keys: tuple[ast.Ident, ...],
        items: tuple[ast.Assignment, ...],
        record: RecordType,
        taken: dict[str, TypeSpec],
        where: str,
        output: str,
        clash: tuple[str, ...] = (),
    ) -> dict[str, TypeSpec]:
        """The items' types; an error for an item named like another, or like a field already
        in `taken` (with `clash`'s label and hints)."""
        scope = Scope(record, where, aggregates=True, keys=frozenset(k.text for k in keys))
        fields: dict[str, TypeSpec] = {}
        for item in items:
            if item.name.text in taken or item.name.text in fields:
                extra = clash if item.name.text in taken else ()
                self.report(
                    error(
                        "E0504",
                        f"`{item.name.text}` is already a field of {output}",
                        item.name.span,
                        *extra,
                    )
                )
            fields[item.name.text] = spec_of(self.expr(item.value, scope))
        return fields
