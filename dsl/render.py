"""The plan IR back to pipeline-language text, for people reading a plan (`graph`, `explain`).

The planner lowers the syntax tree into `rillet.runtime.plan`; this module goes the other way
for expressions and operators, writing the fewest parentheses that keep the meaning (by the
precedence levels of `grammar.lark`). It is a display format, not a round trip: params are
already literals and durations are milliseconds, written back in the largest exact unit.
Read next: `graph.py` and `explain.py`, its two users.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rillet.runtime import plan as ir

# Binding strength, loosest first, as the grammar nests its rules.
_IF, _OR, _AND, _NOT, _COMPARE, _COALESCE, _SUM, _PRODUCT, _UNARY, _POSTFIX, _ATOM = range(11)
_BINARY = {
    "or": _OR,
    "and": _AND,
    "??": _COALESCE,
    "==": _COMPARE,
    "!=": _COMPARE,
    "<": _COMPARE,
    "<=": _COMPARE,
    ">": _COMPARE,
    ">=": _COMPARE,
    "in": _COMPARE,
    "not_in": _COMPARE,
    "+": _SUM,
    "-": _SUM,
    "*": _PRODUCT,
    "/": _PRODUCT,
    "//": _PRODUCT,
    "%": _PRODUCT,
}
_KEYWORDS = frozenset(
    {"and", "or", "not", "in", "if", "then", "else", "true", "false", "null", "this"}
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000))


def duration(ms: int) -> str:
    """`10000` → `10s`: the largest unit that divides the value exactly, else milliseconds."""
    for unit, size in _UNITS:
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def literal(value: Any) -> str:
    """A Python value as the language writes it (`None` → `null`, strings JSON-quoted)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(str(k))}: {literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def expr(e: ir.Expr) -> str:
    """`Binary('==', Field(('status',)), Lit(200))` → `status == 200`."""
    return _expr(e)[0]


def _key(name: str) -> str:
    return name if _NAME.match(name) and name not in _KEYWORDS else json.dumps(name)


def _field(path: tuple[str, ...]) -> str:
    out = ""
    for i, part in enumerate(path):
        if _NAME.match(part) and part not in _KEYWORDS:
            out += f".{part}" if i else part
        else:
            out += ("" if i else "this") + f"[{json.dumps(part, ensure_ascii=False)}]"
    return out or "this"


def _at_least(e: ir.Expr, level: int) -> str:
    text, own = _expr(e)
    return text if own >= level else f"({text})"


def _expr(e: ir.Expr) -> tuple[str, int]:
    """The text of `e` and the binding strength of its outermost construct."""
    match e:
        case ir.Lit(value=value):
            negative = isinstance(value, int | float) and not isinstance(value, bool) and value < 0
            return literal(value), _UNARY if negative else _ATOM
        case ir.Field(path=path):
            return _field(path), _ATOM if len(path) <= 1 else _POSTFIX
        case ir.Index(target=target, key=key):
            return f"{_at_least(target, _POSTFIX)}[{expr(key)}]", _POSTFIX
        case ir.Call(name=name, args=args, kwargs=kwargs):
            parts = [expr(a) for a in args] + [f"{k}={expr(v)}" for k, v in kwargs]
            return f"{name}({', '.join(parts)})", _ATOM
        case ir.Unary(op="not", operand=operand):
            return f"not {_at_least(operand, _NOT)}", _NOT
        case ir.Unary(op=op, operand=operand):
            inner = _at_least(operand, _UNARY)
            return f"{op}{' ' if inner.startswith('-') else ''}{inner}", _UNARY
        case ir.Binary(op=op, left=left, right=right):
            level = _BINARY[op]
            # Comparisons do not chain; the others associate to the left.
            left_level = level + 1 if level == _COMPARE else level
            word = "not in" if op == "not_in" else op
            return f"{_at_least(left, left_level)} {word} {_at_least(right, level + 1)}", level
        case ir.Match(operand=operand, pattern=pattern):
            return f"{_at_least(operand, _COALESCE)} =~ {literal(pattern)}", _COMPARE
        case ir.IfElse(cond=cond, then=then, other=other):
            return f"if {expr(cond)} then {expr(then)} else {expr(other)}", _IF
        case ir.ListOf(items=items):
            return "[" + ", ".join(expr(i) for i in items) + "]", _ATOM
        case ir.RecordOf(items=items):
            return "{" + ", ".join(f"{_key(k)}: {expr(v)}" for k, v in items) + "}", _ATOM
    raise TypeError(f"not an expression: {e!r}")


def _assignments(fields: tuple[ir.Assign, ...], short: bool) -> str:
    """`short`: a `select` writes `user` for `user = user`."""
    return ", ".join(
        a.name if short and a.expr == ir.Field((a.name,)) else f"{a.name} = {expr(a.expr)}"
        for a in fields
    )


def window(w: ir.Window) -> str:
    early = f" emit every {duration(w.emit_every_ms)}" if w.emit_every_ms else ""
    if w.kind == "session":
        return f"window session gap {duration(w.size_ms)}{early}"
    if w.kind == "sliding" and w.every_ms is not None:
        return f"window sliding {duration(w.size_ms)} every {duration(w.every_ms)}{early}"
    return f"window {w.kind} {duration(w.size_ms)}{early}"


def _top(op: ir.Top) -> str:
    """`window ... | top 3 by price desc per auction`."""
    order = ", ".join(f"{o.field} {'desc' if o.descending else 'asc'}" for o in op.order)
    per = f" per {', '.join(op.keys)}" if op.keys else ""
    body = f"top {op.count} by {order}{per}"
    return f"{window(op.window)} | {body}" if op.window is not None else body


def _aggregating(op: ir.Aggregate | ir.Rolling) -> str:
    """`window ... | aggregate by k { ... }` or `rolling 10m by k { ... }`."""
    by = f"by {', '.join(op.keys)} " if op.keys else ""
    items = f"{by}{{ {_assignments(op.fields, short=False)} }}"
    if isinstance(op, ir.Rolling):
        size = f"last {op.last}" if op.last is not None else duration(op.within_ms or 0)
        return f"rolling {size} {items}"
    body = f"aggregate {items}"
    return f"{window(op.window)} | {body}" if op.window is not None else body


def node(n: ir.Node) -> str:
    """A plan node as its line of the pipeline file, with the name the author gave the step
    (`where status == 200 as ok_clicks`)."""
    return operator(n.op) + (f" as {n.name}" if n.name else "")


def operator(op: ir.Op) -> str:
    """One plan operator as a line of the pipeline file (`where status == 200`); a source or
    sink as its declaration's gist (`source clicks (file)`)."""
    match op:
        case ir.Source(name=name):
            return f"source {name} ({' then '.join(p.connector for p in op.parts)})"
        case ir.Sink(name=name, connector=connector):
            return f"sink {name} ({connector})"
        case ir.Where(cond=cond):
            return f"where {expr(cond)}"
        case ir.Select(fields=fields):
            return f"select {_assignments(fields, short=True)}"
        case ir.Derive(fields=fields):
            return f"derive {_assignments(fields, short=False)}"
        case ir.Drop(names=names):
            return f"drop {', '.join(names)}"
        case ir.Explode(field=name, into=into):
            return f"explode {name}" + (f" as {into}" if into != name else "")
        case ir.Union():
            return "union"
        case ir.EventTime(field=name, lateness_ms=lateness, idle_ms=idle):
            text = f"event_time {name}"
            text += f" lateness {duration(lateness)}" if lateness else ""
            return text + (f" idle {duration(idle)}" if idle is not None else "")
        case ir.Aggregate() | ir.Rolling() | ir.Top():
            return _top(op) if isinstance(op, ir.Top) else _aggregating(op)
        case ir.Dedupe(keys=keys, within_ms=within):
            return f"dedupe by {', '.join(keys)} within {duration(within)}"
        case ir.Join(right=right, within_ms=within):
            bound = f" within {duration(within)}" if within is not None else ""
            kind = "left " if op.kind == "left" else ""
            return f"{kind}join {right} on {join_keys(op)}{bound}"
        case ir.Lookup(table=table, on=on):
            return f"lookup {table.name} on {on}"
        case ir.PluginOperator(name=name, kwargs=kwargs, concurrency=concurrency):
            args = ", ".join(f"{k}={literal(v)}" for k, v in kwargs.items())
            return f"{name}({args})" + (f" concurrency {concurrency}" if concurrency else "")
    raise TypeError(f"not an operator: {op!r}")


def join_keys(op: ir.Join) -> str:
    """`user`, `user, page` or `user = buyer, page = path`, as the `on` of a join is written."""
    pairs = zip(op.left_keys, op.right_keys)
    return ", ".join(left if left == right else f"{left} = {right}" for left, right in pairs)


__all__ = ["duration", "expr", "join_keys", "literal", "node", "operator", "window"]
