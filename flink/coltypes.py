"""The Flink SQL type of each plan node's columns and of expressions over them.

Flink needs a Python UDF's result type before the job runs, and rillet's `//`, `%`, `round`
and `+` give an int or a float (or text, or a list) as their operands are: so the translation
follows the types through the plan, from the sources' schemas, as the checker follows record
types (docs/language.md §6). `None` is an unknown type (a null literal, a field no schema
declares): what depends on it does not map. A pure function of the plan; read next:
`functions.py`.
"""

from __future__ import annotations

from collections.abc import Callable

from rillet.runtime.plan import (
    Aggregate,
    Binary,
    Call,
    Dedupe,
    Derive,
    Drop,
    EventTime,
    Explode,
    Expr,
    Field,
    IfElse,
    Index,
    Join,
    ListOf,
    Lit,
    Lookup,
    Match,
    Plan,
    PluginOperator,
    RecordOf,
    Rolling,
    SchemaSpec,
    Select,
    Source,
    Top,
    TypeSpec,
    Unary,
    Union,
    Where,
)

SqlType = str | None
Types = dict[str, SqlType]

BIGINT, DOUBLE, STRING, BOOLEAN = "BIGINT", "DOUBLE", "STRING", "BOOLEAN"
NUMBERS = (BIGINT, DOUBLE)
_SCALARS = {"int": BIGINT, "float": DOUBLE, "str": STRING, "bool": BOOLEAN}
_BOOLEAN_OPS = {"==", "!=", "<", "<=", ">", ">=", "in", "not_in", "and", "or"}
_COUNTS = {"count", "count_if", "count_distinct"}
_SAME_AS_VALUE = {"sum", "min", "max", "first", "last", "max_by", "min_by"}


def of_spec(spec: TypeSpec) -> SqlType:
    if spec.name == "list":
        item = of_spec(spec.item) if spec.item is not None else None
        return None if item is None else f"ARRAY<{item}>"
    return _SCALARS.get(spec.name)


def of_schema(schema: SchemaSpec | None) -> Types:
    return {} if schema is None else {f.name: of_spec(f.type) for f in schema.fields}


def item_of(array: SqlType) -> SqlType:
    if array is None or not array.startswith("ARRAY<"):
        return None
    return array[len("ARRAY<") : -1]


def joined(a: SqlType, b: SqlType) -> SqlType:
    """The type of `a ?? b` or an `if`: one side's when the other is null, int and float join
    to float, unrelated types to unknown."""
    if a is None or b is None or a == b:
        return a or b
    return DOUBLE if {a, b} <= set(NUMBERS) else None


def record_field(row: SqlType, name: str) -> SqlType:
    """A field's type in a `ROW<`name` T, ...>` type written by `RecordOf`."""
    if row is None or not row.startswith("ROW<"):
        return None
    for part in _row_parts(row):
        field, _, kind = part.partition(" ")
        if field.strip("`").replace("``", "`") == name:
            return kind
    return None


def _row_parts(row: str) -> list[str]:
    parts, depth, start = [], 0, len("ROW<")
    for i, ch in enumerate(row[start:-1], start):
        depth += ch == "<"
        depth -= ch == ">"
        if ch == "," and depth == 0:
            parts.append(row[start:i].strip())
            start = i + 1
    return [*parts, row[start:-1].strip()]


class Typer:
    """Expression types over one view's column types; `returns` gives a function's result
    type from its arguments' (`functions.py`)."""

    def __init__(self, types: Types, returns: Callable[[str, list[SqlType]], SqlType]) -> None:
        self.types = types
        self.returns = returns

    def of(self, expr: Expr) -> SqlType:
        match expr:
            case Lit(value=value):
                return _literal(value)
            case Field(path=(name, *rest)):
                found = self.types.get(name)
                for key in rest:
                    found = record_field(found, key)
                return found
            case Index(target=target):
                return item_of(self.of(target))
            case Call(name=name, args=args):
                return self.returns(name, [self.of(a) for a in args])
            case Unary(op="not") | Match():
                return BOOLEAN
            case Unary(operand=operand):
                return self.of(operand)
            case Binary(op=op, left=left, right=right):
                return self._binary(op, self.of(left), self.of(right))
            case IfElse(then=then, other=other):
                return joined(self.of(then), self.of(other))
            case ListOf(items=items):
                return _list(self.of(i) for i in items)
            case RecordOf(items=items):
                return _row((k, self.of(v)) for k, v in items)
        return None

    def _binary(self, op: str, a: SqlType, b: SqlType) -> SqlType:
        if op in _BOOLEAN_OPS:
            return BOOLEAN
        if op == "??":
            return joined(a, b)
        if op == "/":
            return DOUBLE
        if a in NUMBERS and b in NUMBERS:
            return BIGINT if a == b == BIGINT else DOUBLE
        if op == "+" and a == b and (a == STRING or item_of(a) is not None):
            return a
        if op == "*" and {a, b} & {STRING} and BIGINT in (a, b):
            return STRING
        if op == "*" and BIGINT in (a, b):
            return a if item_of(a) else b if item_of(b) else None
        return None


def _literal(value: object) -> SqlType:
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return BIGINT
    if isinstance(value, float):
        return DOUBLE
    return STRING if isinstance(value, str) else None


def _list(items) -> SqlType:
    kinds = list(items)
    if not kinds:
        return None
    item = kinds[0]
    for kind in kinds[1:]:
        item = joined(item, kind)
    return None if item is None else f"ARRAY<{item}>"


def _row(fields) -> SqlType:
    parts = []
    for name, kind in fields:
        if kind is None:
            return None
        parts.append("`" + name.replace("`", "``") + "` " + kind)
    return f"ROW<{', '.join(parts)}>" if parts else None


def aggregate_type(name: str, args: list[SqlType]) -> SqlType | bool:
    """An aggregate's result type, or False when `name` is not an aggregate."""
    if name in _COUNTS:
        return BIGINT
    if name in ("avg", "quantile"):
        return DOUBLE
    if name in _SAME_AS_VALUE:
        return args[0] if args else None
    if name == "collect":
        return None if not args or args[0] is None else f"ARRAY<{args[0]}>"
    return False


def node_types(
    plan: Plan,
    returns: Callable[[str, list[SqlType]], SqlType],
    operator_fields: Callable[[str], Types],
) -> dict[int, Types]:
    """Every node's column types, in plan order (a node's inputs come before it); a plugin
    operator's are the fields it declares (`operator_fields`)."""
    found: dict[int, Types] = {}
    for node in plan.nodes:
        inputs = [found.get(i, {}) for i in node.inputs]
        if isinstance(node.op, PluginOperator):
            found[node.id] = operator_fields(node.op.name)
        else:
            found[node.id] = _after(node.op, inputs, returns)
    return found


def _after(op, inputs: list[Types], returns) -> Types:  # noqa: C901 - one arm per operator
    first = inputs[0] if inputs else {}
    match op:
        case Source(schema=schema):
            return of_schema(schema)
        case Where() | EventTime() | Dedupe():
            return first
        case Select(fields=fields):
            typer = Typer(first, returns)
            return {a.name: typer.of(a.expr) for a in fields}
        case Derive(fields=fields):
            derived = dict(first)
            for assign in fields:
                derived[assign.name] = Typer(derived, returns).of(assign.expr)
            return derived
        case Drop(names=names):
            return {k: v for k, v in first.items() if k not in names}
        case Explode(field=field, into=into):
            return {**first, into: item_of(first.get(field))}
        case Union():
            return first
        case Aggregate(keys=keys, fields=fields, window=window):
            out: Types = {k: first.get(k) for k in keys}
            if window is not None:
                out |= {"window_start": BIGINT, "window_end": BIGINT}
            return out | {a.name: _aggregate_field(a.expr, first, returns) for a in fields}
        case Top():
            bounds = {"window_start": BIGINT, "window_end": BIGINT}
            return bounds | first | {"rank": BIGINT}
        case Rolling(fields=fields):
            return first | {a.name: _aggregate_field(a.expr, first, returns) for a in fields}
        case Join():
            return _joined(op, first, inputs[1] if len(inputs) > 1 else {})
        case Lookup(table=table):
            return {**first, **of_schema(table.schema)}
    return {}


def _aggregate_field(expr: Expr, inputs: Types, returns) -> SqlType:
    """An `aggregate` field's type: aggregate calls over the input's columns, scalar
    functions and operators around them (`round(avg(x), 1)`)."""
    return AggregateTyper(inputs, returns).of(expr)


class AggregateTyper(Typer):
    """Types an `aggregate`'s fields: an aggregate call reads the input's columns; the
    expression around it has no columns of its own."""

    def __init__(self, inputs: Types, returns: Callable[[str, list[SqlType]], SqlType]) -> None:
        super().__init__({}, returns)
        self.inner = Typer(inputs, returns)

    def of(self, expr: Expr) -> SqlType:
        if isinstance(expr, Call):
            found = aggregate_type(expr.name, [self.inner.of(a) for a in expr.args])
            if found is not False:
                return found if isinstance(found, str) else None
        return super().of(expr)


def _joined(op: Join, left: Types, right: Types) -> Types:
    """As translate.py names a join's columns: a right field named like a left one becomes
    `{right}_{field}`, a key both sides name alike is kept once."""
    shared = {a for a, b in zip(op.left_keys, op.right_keys) if a == b}
    types = dict(left)
    for name, kind in right.items():
        if name not in shared:
            types[f"{op.right}_{name}" if name in left else name] = kind
    return types
