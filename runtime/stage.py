"""Fusing a chain of stateless operators into one generated Python function over a batch.

`where`, `select`, `derive`, `drop` and `explode` in a row become a single `for` loop; each record
is handled by straight-line code with no per-operator call, no per-record allocation beyond the
records it builds. The function returns the surviving records and their source offsets; a record
that makes an expression fail is handed to `on_error` with the index of the failing operator, and
the batch goes on. Which operator failed is found from the failing line of the generated code
(each operator's code starts on a known line), so the hot loop keeps no bookkeeping for it.
`explain` (a later issue) shows the generated source.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from .expr import ExprCompiler, ExprError
from .item import Picked
from .plan import Derive, Drop, Explode, Select, Where

StatelessOp = Where | Select | Derive | Drop | Explode
ErrorHandler = Callable[[dict, int, int, BaseException], None]
BatchFunction = Callable[
    [list[dict], Sequence[Any], ErrorHandler], tuple[list[dict], Sequence[Any]]
]


@dataclass(frozen=True)
class CompiledStage:
    source: str
    run: BatchFunction
    present: frozenset[str]
    """Fields every output record has, non-null (for the next stage's code)."""


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0

    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)


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
) -> CompiledStage:
    """Generate and compile the batch function for `ops`, applied in order. `present` names
    the fields every input record has, non-null (a schema's required fields). With
    `struct_attrs`, the input records are typed (Structs: `schema.py`) and each field is read
    from its attribute; only for ops that pass `reads_fields_only`."""
    exprs = ExprCompiler(functions)
    exprs.present = present
    if struct_attrs is not None:
        assert reads_fields_only(ops)
        exprs.struct = ("r0", struct_attrs)
        exprs.namespace["_as_record"] = msgspec.to_builtins
    explodes = any(isinstance(op, Explode) for op in ops)
    w = _Writer()
    w.line("def _stage(records, offsets, on_error):")
    w.depth += 1
    w.line("out = []")
    w.line("kept = []  # the index of each record out")
    w.line("emit = out.append")
    w.line("keep = kept.append")
    w.line("for index, r0 in enumerate(records):")
    w.depth += 1
    w.line("try:")
    w.depth += 1
    if explodes:
        w.line("produced = []")
    body_depth = w.depth
    rec = "r0"
    first_lines: list[int] = []  # the line (1-based) where each operator's code starts
    for index, op in enumerate(ops):
        first_lines.append(len(w.lines) + 1)
        rec = _emit_op(w, exprs, op, rec, index)
    w.line(f"{'produced.append' if explodes else 'emit'}({rec})")
    if not explodes:
        w.line("keep(index)")
    w.depth = body_depth
    if explodes:
        w.line("out.extend(produced)")
        w.line("kept.extend([index] * len(produced))")
    w.depth -= 1
    w.line("except Exception as error:")
    record = "r0" if struct_attrs is None else "_as_record(r0)"
    w.line(f"    on_error({record}, offsets[index], _failed_op(error), error)")
    w.depth -= 1
    w.line(f"return out, {'_Picked' if explodes else '_picked'}(offsets, kept)")
    source = "\n".join(w.lines) + "\n"
    namespace = dict(exprs.namespace)
    namespace["_failed_op"] = _failed_op_finder(first_lines)
    namespace["_picked"], namespace["_Picked"] = _picked, Picked
    exec(compile(source, "<rillet stage>", "exec"), namespace)
    return CompiledStage(source=source, run=namespace["_stage"], present=exprs.present)


def _picked(offsets: Sequence[Any], kept: list[int]) -> Sequence[Any]:
    """The offsets of the kept records (`kept`: their indexes, rising), read only when needed;
    the offsets themselves when every record was kept."""
    return offsets if len(kept) == len(offsets) else Picked(offsets, kept)


def _failed_op_finder(first_lines: list[int]) -> Callable[[BaseException], int]:
    """The index of the operator whose code raised `error`, caught in the stage function: the
    first traceback entry is the stage function's own frame, at the failing line."""

    def failed_op(error: BaseException) -> int:
        tb = error.__traceback__
        assert tb is not None
        return max(bisect_right(first_lines, tb.tb_lineno) - 1, 0)

    return failed_op


def _emit_op(w: _Writer, exprs: ExprCompiler, op: StatelessOp, rec: str, index: int) -> str:
    """Write the code of one operator; return the variable that holds the record after it."""
    match op:
        case Where(cond=cond):
            w.line(f"if not {exprs.compile(cond, rec)}:")
            w.line("    continue")
            return rec
        case Select(fields=fields):
            body = ", ".join(f"{a.name!r}: {exprs.compile(a.expr, rec)}" for a in fields)
            out = f"r{index + 1}"
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
            w.line(f"if {items} is None:")
            w.line("    continue")
            w.line(f"if not isinstance({items}, list):")
            message = f"`explode {field}` needs a list, got "
            w.line(f"    raise ExprError({message!r} + type({items}).__name__)")
            w.line(f"for {item} in {items}:")
            w.depth += 1
            w.line(f"{out} = {rec}.copy()")
            w.line(f"{out}[{into!r}] = {item}")
            exprs.present = exprs.present - {into}
            return out
    raise TypeError(f"not a stateless operator: {op!r}")


__all__ = ["CompiledStage", "ExprError", "StatelessOp", "compile_stage", "reads_fields_only"]
