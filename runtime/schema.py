"""Schemas as msgspec types: records are validated (and CSV strings converted) in C.

A `SchemaSpec` from the plan becomes a `TypedDict`, so decoding yields plain dicts. Fields a
schema does not declare are dropped: a schema says what a record is. Optional fields (`str?`)
may be missing or null.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

import msgspec

from .plan import SchemaSpec, TypeSpec

_SCALARS: dict[str, Any] = {"int": int, "float": float, "str": str, "bool": bool, "any": Any}


def python_type(spec: TypeSpec) -> Any:
    if spec.name == "list":
        inner = python_type(spec.item) if spec.item is not None else Any
        base: Any = list[inner]  # type: ignore[valid-type]
    elif spec.name == "record":
        base = dict[str, Any]
    else:
        base = _SCALARS[spec.name]
    return base | None if spec.optional else base


class Schema:
    """Validates and converts records against one declared schema."""

    def __init__(self, spec: SchemaSpec) -> None:
        self.spec = spec
        fields: dict[str, Any] = {}
        for f in spec.fields:
            t = python_type(f.type)
            fields[f.name] = NotRequired[t] if f.type.optional else t
        self.type = TypedDict(spec.name, fields)  # type: ignore[operator]
        self._optional = {f.name for f in spec.fields if f.type.optional}
        self._one = msgspec.json.Decoder(self.type)
        self._many = msgspec.json.Decoder(list[self.type])  # type: ignore[name-defined]

    def decode_json(self, data: bytes) -> dict:
        return self._one.decode(data)

    def decode_json_array(self, data: bytes) -> list[dict]:
        return self._many.decode(data)

    def validate(self, record: dict) -> dict:
        """A validated copy of a record built in Python (test data, generated events)."""
        return msgspec.convert(record, self.type)

    def convert_strings(self, row: dict[str, str]) -> dict:
        """A CSV row: strings converted to the declared types; empty optional values are null."""
        if self._optional:
            row = {k: (None if v == "" and k in self._optional else v) for k, v in row.items()}
        return msgspec.convert(row, self.type, strict=False)

    def describe(self, error: msgspec.ValidationError) -> str:
        message = str(error).replace(" - at `$.", " at `").replace(" - at `$`", "")
        return f"schema `{self.spec.name}`: {message[0].lower()}{message[1:]}"
