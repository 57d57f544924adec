"""Compiling `aggregate { ... }` into generated code: the group key, the accumulator updates and
the result row, each one Python function.

Every aggregate call in the items becomes a slot: an accumulator built per group (and pane or
session) from the registry's aggregate class, updated by `add(args...)`. A class may also give
`inline_add`, the body of its `add` as a code template (`{acc}` the accumulator, `{0}`, `{1}`
... its arguments, each a plain variable): the update is then pasted into the generated code
rather than called, which saves a method call per record and slot on the hot path; likewise
`inline_result` (`{acc}.n`) for the result of each group when a window fires. Items may combine
aggregates and the `by` keys in expressions (`total / n`); those are evaluated over a row holding
the keys and the slots' results.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from .codegen import Writer, define
from .expr import ExprCompiler
from .plan import Aggregate, Call, Expr, Field, Lit, Rolling
from .plugin import Registry
from .stage import row_type

SLOT_PREFIX = "#"  # result-row names no field can have: `by` keys are identifiers
BOUNDS = ("window_start", "window_end")  # a window's, first in each of its rows


@dataclass(frozen=True)
class CompiledAggregate:
    keys: tuple[str, ...]
    key_of: Callable[[dict], Any]
    """The group key of a record: the value of the one key, or a tuple of them."""
    new_accumulators: Callable[[], list]
    update: Callable[[list, dict], None]
    result: Callable[[Any, list], dict]
    """The output record of a group from its key and accumulators (window bounds come first
    in the output when the caller adds them)."""
    source: str
    key_code: str
    """`key_of`'s expression over a record variable `r`, for a caller's generated loop."""
    update_lines: tuple[str, ...]
    """`update`'s body over `accs` and `r`, unindented, for a caller's generated loop."""
    namespace: dict[str, Any]
    """The globals that `key_code` and `update_lines` need (functions, constants)."""
    rows: Callable[[Any, list], list[dict]]
    """A group's output records: `result`'s one, or a `top`'s kept records (`top.py`)."""
    merge: Callable[[list, list], None] | None = None
    """Merge a group's accumulators into another's, one call for all of them (generated:
    panes of a sliding window merge per key); None for a `top`, whose one merges itself."""
    rows_of: Callable[[dict[Any, list], int, int, dict], list[dict]] | None = None
    """Every group's output record of the window from `start` to `end`: its bounds before
    and again after its fields (so that they win), then `tail`, made in one generated
    comprehension: a window fires hundreds of thousands of groups. Only where each field is
    one aggregate's result (`n = count()`)."""


def _slots(expr: Any, registry: Registry, found: list[tuple[str, Call]]) -> Any:
    """`expr` with each aggregate call replaced by a reference to its slot in the result row."""
    if isinstance(expr, Call) and registry.get("aggregate", expr.name) is not None:
        name = f"{SLOT_PREFIX}{len(found)}"
        found.append((name, expr))
        return Field((name,))
    if not isinstance(expr, msgspec.Struct):
        return expr
    changes = {}
    for field_name in expr.__struct_fields__:
        value = getattr(expr, field_name)
        if isinstance(value, tuple):
            new = tuple(
                _slots(v, registry, found)
                if not isinstance(v, tuple)
                else (v[0], _slots(v[1], registry, found))
                for v in value
            )
        else:
            new = _slots(value, registry, found)
        if new is not value:
            changes[field_name] = new
    return msgspec.structs.replace(expr, **changes) if changes else expr


def compile_aggregate(
    op: Aggregate | Rolling,
    registry: Registry,
    functions: dict[str, Callable[..., Any]],
    struct_attrs: dict[str, str] | None = None,
    rows: bool = False,
) -> CompiledAggregate:
    """With `struct_attrs`, the records are Structs (`typedflow.py`): each field is read from
    its attribute. With `rows`, only sinks that encode their records read the output
    (`Spec.encodes`): `rows_of` makes Structs (`stage.row_type`), not dicts."""
    calls: list[tuple[str, Call]] = []
    items = [(a.name, _slots(a.expr, registry, calls)) for a in op.fields]
    exprs = ExprCompiler(functions)
    if struct_attrs is not None:
        exprs.struct = ("r", struct_attrs)
    if len(op.keys) == 1:
        key_code = exprs.compile(Field((op.keys[0],)), "r")
    else:
        key_code = "(" + "".join(exprs.compile(Field((k,)), "r") + ", " for k in op.keys) + ")"
    factories, update = _accumulators(calls, registry, exprs)
    w = Writer()
    with w.block("def key_of(r):"):
        w.line(f"return {key_code}")
    with w.block("def update(accs, r):"):
        w.line(*update or ["pass"])
    with w.block("def result(key, accs):"):
        _emit_result(w, exprs, op.keys, [slot for slot, _ in calls], items)
    results = [_result_code(cls, i) for i, (cls, _, _) in enumerate(factories)]
    simple = _emit_rows_of(w, op.keys, [slot for slot, _ in calls], results, items, rows)
    namespace = dict(exprs.namespace)
    namespace["_row_type"] = _row_type
    with w.block("def new_accumulators():"):  # one per group and pane: no loop, no unpacking
        w.line(f"return [{', '.join(_construct(factories, namespace))}]")
    with w.block("def merge(target, accs):"):
        w.line(*[f"target[{i}].merge(accs[{i}])" for i in range(len(calls))] or ["pass"])
    names = ("key_of", "update", "result", "new_accumulators", "merge")
    key_of, update_fn, result, new_accumulators, merge, *rows_of = define(
        w, "aggregate", namespace, *names, *(("rows_of",) if simple else ())
    )

    return CompiledAggregate(
        op.keys,
        key_of,
        new_accumulators,
        update_fn,
        result,
        w.source,
        key_code,
        tuple(update),
        dict(exprs.namespace),
        lambda key, accs: [result(key, accs)],
        merge,
        rows_of[0] if rows_of else None,
    )


def _emit_rows_of(
    w: Writer,
    keys: tuple[str, ...],
    slots: list[str],
    results: list[str],
    items: list[tuple[str, Any]],
    structs: bool,
) -> bool:
    """Write `rows_of` (`CompiledAggregate.rows_of`) when each item is one slot's result
    (`results`: the code reading each slot's), as `result` would make each row; whether it
    was written. With `structs`, rows are Structs of the same fields in the same order, where
    no two of them share a name, made by positional calls: unpacking the bounds into each
    call took longer than the rest of the row."""
    index_of = {slot: i for i, slot in enumerate(slots)}
    refs = [e.path[0] if isinstance(e, Field) and len(e.path) == 1 else "" for _, e in items]
    if any(ref not in index_of for ref in refs):
        return False
    key_values = ["key"] if len(keys) == 1 else [f"key[{i}]" for i in range(len(keys))]
    item_values = [results[index_of[ref]] for ref in refs]
    names = [*BOUNDS, *keys, *(n for n, _ in items)]
    pairs = [f"{n!r}: {v}" for n, v in zip(names, ["start", "end", *key_values, *item_values])]
    row = ", ".join([*pairs, *pairs[:2], "**tail"])
    with w.block("def rows_of(groups, start, end, tail):"):
        if structs:
            w.line(f"row = _row_type((*{tuple(names)!r}, *tail))")
            values = ", ".join(["start", "end", *key_values, *item_values])
            with w.block("if row is not None and not tail:"):
                w.line(f"return [row({values}) for key, accs in groups.items()]")
            with w.block("if row is not None:"):
                w.line("rest = tuple(tail.values())")
                w.line(f"return [row({values}, *rest) for key, accs in groups.items()]")
        w.line(f"return [{{{row}}} for key, accs in groups.items()]")
    return True


def _result_code(cls: type, index: int) -> str:
    """The code reading accumulator `index`'s result: the class's own `inline_result`
    template where it declares one (`{acc}.n`), else a call of `result`."""
    inline = vars(cls).get("inline_result")
    acc = f"accs[{index}]"
    return inline.format(acc=acc) if isinstance(inline, str) else f"{acc}.result()"


@functools.cache
def _row_type(names: tuple[str, ...]) -> type | None:
    """The Struct of a row of `names`, in order; None when two share a name (a dict's later
    value then wins in the earlier place, which a Struct cannot say)."""
    return row_type(names) if len(set(names)) == len(names) else None


def _emit_result(
    w: Writer,
    exprs: ExprCompiler,
    keys: tuple[str, ...],
    slots: list[str],
    items: list[tuple[str, Any]],
) -> None:
    """Write `result`'s body: a row of the keys and the slots' results, then the items
    evaluated over it."""
    if len(keys) == 1:
        w.line(f"row = {{{keys[0]!r}: key}}")
    else:
        pairs = ", ".join(f"{k!r}: key[{i}]" for i, k in enumerate(keys))
        w.line(f"row = {{{pairs}}}")
    for index, slot in enumerate(slots):
        w.line(f"row[{slot!r}] = accs[{index}].result()")
    body = ", ".join(f"{name!r}: {exprs.compile(expr, 'row')}" for name, expr in items)
    pairs = ", ".join(f"{k!r}: row[{k!r}]" for k in keys)
    w.line(f"return {{{pairs}{', ' if pairs and body else ''}{body}}}")


def _accumulators(
    calls: list[tuple[str, Call]], registry: Registry, exprs: ExprCompiler
) -> tuple[list[tuple[Any, list[Any], dict[str, Any]]], list[str]]:
    """How to make each aggregate call's accumulator (its class, constant arguments), and the
    lines of `update` that feed one record to all of them: the arguments first, so that one
    failing (a division by zero, a bad value) leaves every accumulator as it was."""
    factories = []
    values_first: list[str] = []  # every argument evaluated before any accumulator changes
    adds: list[str] = []
    for index, (_, call) in enumerate(calls):
        spec = registry.get("aggregate", call.name)
        assert spec is not None
        values = len(inspect.signature(spec.obj.add).parameters) - 1  # after `self`
        args, extra = call.args[:values], call.args[values:]
        constants = [_constant(e) for e in extra]
        kwargs = {k: _constant(v) for k, v in call.kwargs}
        factories.append((spec.obj, constants, kwargs))
        names = [f"_v{index}_{i}" for i in range(len(args))]
        values_first += [f"{n} = {exprs.compile(a, 'r')}" for n, a in zip(names, args)]
        # only a template the class itself declares: a subclass may `add` differently
        inline = vars(spec.obj).get("inline_add")
        if isinstance(inline, str):
            adds += inline.format(*names, acc=f"accs[{index}]").splitlines()
        else:
            adds.append(f"accs[{index}].add({', '.join(names)})")
    update = values_first + adds
    return factories, update


def _construct(
    factories: list[tuple[Any, list[Any], dict[str, Any]]], namespace: dict[str, Any]
) -> list[str]:
    """A call building each accumulator, its class and constants put in `namespace`."""
    calls = []
    for index, (cls, constants, kwargs) in enumerate(factories):
        namespace[f"_acc{index}"] = cls
        args = []
        for i, value in enumerate(constants):
            namespace[f"_acc{index}_{i}"] = value
            args.append(f"_acc{index}_{i}")
        for name, value in kwargs.items():
            namespace[f"_acc{index}_{name}"] = value
            args.append(f"{name}=_acc{index}_{name}")
        calls.append(f"_acc{index}({', '.join(args)})")
    return calls


def _constant(expr: Expr) -> Any:
    if not isinstance(expr, Lit):
        raise ValueError("aggregate options must be constants")
    return expr.value
