"""Types as the checker sees them: of expressions, and of the records flowing through a flow.

Types are names (`int float str bool null list record any`); `any` is what a schema-less source
gives, and it checks against everything. A `RecordType` knows its fields when a schema (or a
`select`, `aggregate`) fixed them — then an unknown field is an error — and is open otherwise.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import msgspec
from msgspec import field

from rillet.runtime.plan import SchemaSpec, TypeSpec

NUMERIC = {"int", "float"}
SCALARS = ("int", "float", "str", "bool", "any", "list", "record")


class RecordType(msgspec.Struct, frozen=True):
    """`fields` is None for an open record (any field may exist). `origin` says where the
    fields came from, for diagnostics (`schema Click`, `the \\`select\\` on line 12`)."""

    fields: dict[str, TypeSpec] | None = None
    origin: str = ""
    items: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_schema(cls, schema: SchemaSpec) -> RecordType:
        return cls({f.name: f.type for f in schema.fields}, f"schema {schema.name}")

    def field_type(self, name: str) -> str:
        if self.fields is None or name not in self.fields:
            return "any"
        return self.fields[name].name

    def with_fields(self, updates: dict[str, TypeSpec], origin: str) -> RecordType:
        if self.fields is None:
            return self
        return RecordType({**self.fields, **updates}, origin)


def source_type(schema: SchemaSpec | None, added: dict[str, Any], connector: str) -> RecordType:
    """A source's records: its schema's fields and those its connector adds (`Spec.adds`), or
    open without a schema."""
    if schema is None:
        return RecordType()
    if not added:
        return RecordType.of_schema(schema)
    fields = {f.name: f.type for f in schema.fields}
    for name, annotation in added.items():
        fields[name] = TypeSpec(annotation_type(annotation), "null" in annotation_types(annotation))
    return RecordType(fields, f"schema {schema.name} and the fields `{connector}` adds")


def annotation_spec(annotation: Any) -> TypeSpec:
    """A field's Python annotation as a record field's type: `list[int] | None` is an
    optional list of ints."""
    accepted = annotation_types(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        annotation = args[0]
    item = None
    if typing.get_origin(annotation) is list and len(typing.get_args(annotation)) == 1:
        item = annotation_spec(typing.get_args(annotation)[0])
    return TypeSpec(annotation_type(annotation), "null" in accepted, item)


def spec_of(type_name: str) -> TypeSpec:
    return TypeSpec(name=type_name if type_name in SCALARS else "any")


def annotation_types(annotation: Any) -> set[str]:
    """The expression types a Python annotation accepts (`float` accepts int too)."""
    if annotation is Any or annotation is object:
        return {"any"}
    if hasattr(annotation, "__supertype__"):  # a NewType, like `Regex`
        return annotation_types(annotation.__supertype__)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        out: set[str] = set()
        for arg in typing.get_args(annotation):
            out |= annotation_types(arg)
        return out
    base = origin or annotation
    table = {
        int: {"int"},
        float: {"float", "int"},
        str: {"str"},
        bool: {"bool"},
        list: {"list"},
        tuple: {"list"},
        dict: {"record"},
        type(None): {"null"},
    }
    return table.get(base, {"any"})


def annotation_type(annotation: Any) -> str:
    """The expression type a Python return annotation gives."""
    accepted = annotation_types(annotation) - {"null"}
    if len(accepted) == 1:
        return next(iter(accepted))
    if accepted == {"float", "int"}:
        return "float"
    return "any"


def describe(type_name: str) -> str:
    """`an int`, `a str`, `null`: a type as a phrase in a sentence."""
    if type_name in ("null", "any"):
        return {"null": "null", "any": "any value"}[type_name]
    return f"{'an' if type_name[0] in 'aeiou' else 'a'} {type_name}"


def arithmetic(op: str, left: str, right: str) -> str | None:
    """The result type of `left op right`, or None when the operands do not fit."""
    if "any" in (left, right) or "null" in (left, right):
        return "float" if op == "/" else "any"
    if left in NUMERIC and right in NUMERIC:
        if op == "/":
            return "float"
        return "int" if left == right == "int" else "float"
    if op == "+" and left == right and left in ("str", "list"):
        return left
    if op == "*" and {left, right} in ({"str", "int"}, {"list", "int"}):
        return "str" if "str" in (left, right) else "list"
    return None


def comparable(op: str, left: str, right: str) -> bool:
    if "any" in (left, right) or "null" in (left, right):
        return True
    if left in NUMERIC and right in NUMERIC:
        return True
    if op in ("==", "!="):
        return left == right
    return left == right and left in ("str", "int", "float")


def join(a: str, b: str) -> str:
    """The type of a value that is either `a` or `b`."""
    if a == b or b == "null":
        return a
    if a == "null":
        return b
    if a in NUMERIC and b in NUMERIC:
        return "float"
    return "any"
