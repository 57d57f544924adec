"""Fusing a chain of stateless operators into one generated Python function over a batch.

`where`, `select`, `derive`, `drop` and `explode` in a row become a single `for` loop; each record
is handled by straight-line code with no per-operator call, no per-record allocation beyond the
records it builds. The function returns the surviving records and their source offsets; a record
that makes an expression fail is handed to `on_error` with the index of the failing operator, and
the batch goes on. Which operator failed is found from the failing line of the generated code
(each operator's code starts on a line the writer marks: `codegen.py`), so the hot loop keeps no
bookkeeping for it. `explain` shows the generated source.
"""

from __future__ import annotations

import functools
import keyword
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from .codegen import Writer, define, failed_item
from .expr import ExprCompiler, ExprError
from .item import Picked, Refiltered, picked
from .plan import Derive, Drop, Explode, Select, Where

StatelessOp = Where | Select | Derive | Drop | Explode
ErrorHandler = Callable[[dict, int, int, BaseException], None]
BatchFunction = Callable[
    [list[dict], Sequence[Any], ErrorHandler], tuple[list[dict], Sequence[Any]]
]


class CompiledStage(msgspec.Struct, frozen=True):
    source: str
    run: BatchFunction
    present: frozenset[str]
    """Fields every output record has, non-null (for the next stage's code)."""


def reads_fields_only(ops: list[StatelessOp]) -> bool:
    """Whether the stage only reads fields of its input records before building new ones
    (`where`s, then a `select` that uses no `this`): then its input may be typed records."""
    exprs = ExprCompiler({})
    for op in ops:
        if isinstance(op, Where) and not exprs.reads_whole_record(op.cond):
            continue
        return isinstance(op, Select) and not any(
            exprs.reads_whole_record(a.expr) for a in op.fields
        )
    return False


def compile_stage(
    ops: list[StatelessOp],
    functions: dict[str, Callable[..., Any]],
    present: frozenset[str] = frozenset(),
    struct_attrs: dict[str, str] | None = None,
    rows: bool = False,
) -> CompiledStage:
    """Generate and compile the batch function for `ops`, applied in order. `present` names
    the fields every input record has, non-null (a schema's required fields). With
    `struct_attrs`, the input records are typed (Structs: `schema.py`) and each field is read
    from its attribute; only for ops that pass `reads_fields_only`. With `rows`, only sinks
    that encode their records read the output (`Spec.encodes`): a last `select` then builds
    Structs (`row_type`)."""
    exprs = ExprCompiler(functions)
    exprs.present = present
    if struct_attrs is not None:
        assert reads_fields_only(ops)
        exprs.struct = ("r0", struct_attrs)
        exprs.namespace["_as_record"] = msgspec.to_builtins
    last = ops[-1] if ops else None
    if rows and isinstance(last, Select):
        names = tuple(a.name for a in last.fields)
        if len(set(names)) == len(names):
            exprs.namespace["_Row"] = row_type(names)
    explodes = any(isinstance(op, Explode) for op in ops)
    w = Writer()
    fast = _filters_and_maps(ops) and all(
        _is_pure(functions[name]) for op in ops for name in _called(exprs, op)
    )
    if fast:
        _write_comprehension(w, exprs, ops)
    with w.block(f"def {'_careful' if fast else '_stage'}(records, offsets, on_error):"):
        w.line("out = []", "kept = []  # the index of each record out")
        w.line("emit = out.append", "keep = kept.append")
        with w.block("for index, r0 in enumerate(records):"):
            with w.block("try:"):
                _emit_ops(w, exprs, ops, explodes)
            with w.block("except Exception as error:"):
                record = "r0" if struct_attrs is None else "_as_record(r0)"
                w.line(f"on_error({record}, offsets[index], _failed_op(error), error)")
        w.line(f"return out, {'_Picked' if explodes else '_picked'}(offsets, kept)")
    namespace = dict(exprs.namespace)
    namespace["_failed_op"] = failed_item(w.marks)
    namespace["_picked"], namespace["_Picked"] = picked, Picked
    namespace["_Refiltered"] = Refiltered
    (run,) = define(w, "stage", namespace, "_stage")
    return CompiledStage(source=w.source, run=run, present=exprs.present)


def _filters_and_maps(ops: list[StatelessOp]) -> bool:
    """Whether `ops` are `where`s, then at most one `select`, the last op: one comprehension."""
    return (
        bool(ops)
        and isinstance(ops[-1], Where | Select)
        and all(isinstance(op, Where) for op in ops[:-1])
    )


def _called(exprs: ExprCompiler, op: StatelessOp) -> set[str]:
    if isinstance(op, Where):
        return exprs.called(op.cond)
    fields = op.fields if isinstance(op, Select) else []
    return set().union(*(exprs.called(a.expr) for a in fields))


def _is_pure(function: Callable[..., Any]) -> bool:
    """Whether `function` gives the same result for the same arguments and does nothing else:
    rillet's own functions but `now` (bound to the run's clock); a plugin's could count calls."""
    return getattr(function, "__module__", None) == PURE_FUNCTIONS


PURE_FUNCTIONS = "rillet.stdlib.functions"


def _write_comprehension(w: Writer, exprs: ExprCompiler, ops: list[StatelessOp]) -> None:
    """The stage as one comprehension, about a third faster than the loop: no index kept per
    record, no `try` per record. Its expressions are pure, so should one raise, the batch is
    done again by the loop (`_careful`), which hands each failing record to `on_error`; and
    the offsets of the records kept are worked out, when someone reads them, by testing the
    conditions again (`Refiltered`)."""
    conditions = [exprs.compile(op.cond, "r0") for op in ops if isinstance(op, Where)]
    test = " and ".join(conditions) or "True"
    last = ops[-1]
    if isinstance(last, Select) and "_Row" in exprs.namespace:
        row = f"_Row({', '.join(exprs.compile(a.expr, 'r0') for a in last.fields)})"
    elif isinstance(last, Select):
        row = (
            "{" + ", ".join(f"{a.name!r}: {exprs.compile(a.expr, 'r0')}" for a in last.fields) + "}"
        )
    else:
        row = "r0"
    with w.block("def _stage(records, offsets, on_error):"):
        with w.block("try:"):
            w.line(f"out = [{row} for r0 in records{f' if {test}' if conditions else ''}]")
        with w.block("except Exception:"):
            w.line("return _careful(records, offsets, on_error)")
        with w.block("if len(out) == len(records):"):
            w.line("return out, offsets")
        w.line("return out, _Refiltered(offsets, records, _kept)")
    with w.block("def _kept(r0):"):
        w.line(f"return {test}")


@functools.cache  # one class per list of names: a run's stages with the same names share it
def row_type(names: tuple[str, ...]) -> type[msgspec.Struct]:
    """A Struct encoding as the dict of `names` (in order) would: each field renamed to its name
    where that is no Python attribute. Not tracked by the collector: a row is built from values
    that existed before it, so it is never part of a cycle."""
    attrs = [
        n if n.isidentifier() and not keyword.iskeyword(n) and not n.startswith("_") else f"_f{i}"
        for i, n in enumerate(names)
    ]
    fields = [(a, Any) for a in attrs]
    rename = {a: n for a, n in zip(attrs, names) if a != n}
    return msgspec.defstruct("Row", fields, rename=rename, gc=False)


def _emit_ops(w: Writer, exprs: ExprCompiler, ops: list[StatelessOp], explodes: bool) -> None:
    """Write the body of the loop over records: each operator's code (marked where it starts,
    to name the one that fails), then the record or records it produced go out."""
    if explodes:
        w.line("produced = []")
    depth, rec = w.depth, "r0"
    for index, op in enumerate(ops):
        w.mark()
        rec = _emit_op(w, exprs, op, rec, index, index == len(ops) - 1)
    w.line(f"{'produced.append' if explodes else 'emit'}({rec})")
    if not explodes:
        w.line("keep(index)")
    w.depth = depth  # out of the loops `explode` opened
    if explodes:
        w.line("out.extend(produced)", "kept.extend([index] * len(produced))")


def _emit_op(
    w: Writer, exprs: ExprCompiler, op: StatelessOp, rec: str, index: int, last: bool
) -> str:
    """Write the code of one operator (`last`: of the stage); return the variable that holds
    the record after it."""
    match op:
        case Where(cond=cond):
            with w.block(f"if not {exprs.compile(cond, rec)}:"):
                w.line("continue")
            return rec
        case Select(fields=fields):
            out = f"r{index + 1}"
            if last and "_Row" in exprs.namespace:  # positional: as fast as a tuple to build
                body = ", ".join(exprs.compile(a.expr, rec) for a in fields)
                w.line(f"{out} = _Row({body})")
            else:
                body = ", ".join(f"{a.name!r}: {exprs.compile(a.expr, rec)}" for a in fields)
                w.line(f"{out} = {{{body}}}")
            exprs.present = frozenset(a.name for a in fields if exprs.is_present(a.expr))
            return out
        case Derive(fields=fields):
            out = f"r{index + 1}"
            w.line(f"{out} = {rec}.copy()")
            for a in fields:
                w.line(f"{out}[{a.name!r}] = {exprs.compile(a.expr, out)}")
                exprs.present = exprs.present - {a.name}
            return out
        case Drop(names=names):
            out = f"r{index + 1}"
            w.line(f"{out} = {rec}.copy()")
            for name in names:
                w.line(f"{out}.pop({name!r}, None)")
            exprs.present = exprs.present - set(names)
            return out
        case Explode(field=field, into=into):
            items, item, out = f"items{index}", f"item{index}", f"r{index + 1}"
            w.line(f"{items} = {rec}.get({field!r})")
            with w.block(f"if {items} is None:"):
                w.line("continue")
            with w.block(f"if not isinstance({items}, list):"):
                message = f"`explode {field}` needs a list, got "
                w.line(f"raise ExprError({message!r} + type({items}).__name__)")
            w.line(f"for {item} in {items}:")  # left open: the ops after run per item
            w.depth += 1
            w.line(f"{out} = {rec}.copy()")
            w.line(f"{out}[{into!r}] = {item}")
            exprs.present = exprs.present - {into}
            return out
    raise TypeError(f"not a stateless operator: {op!r}")


__all__ = ["CompiledStage", "ExprError", "StatelessOp", "compile_stage", "reads_fields_only"]
