"""What hovering shows: a field's type, an operator's meaning, a component's signature.

A pure function of the checked program and a place; `server.py` turns the answer into LSP's
`Hover`. Text is Markdown.
"""

from __future__ import annotations

from rillet.runtime.plan import Span, TypeSpec
from rillet.runtime.plugin import Spec
from rillet.runtime.secret import Secrets

from .. import ast
from ..checked import Checked
from ..pluginopcheck import OPERATOR_NAMES
from ..signature import signature
from ..types import RecordType
from .keywords import OPERATORS, describe_operator
from .locate import Place, flow_at, nodes_at, records_into, role

NOT_FIELDS = {
    (ast.JoinOp, "stream"),
    (ast.JoinOp, "kind"),
    (ast.LookupOp, "table"),
    (ast.IntoOp, "sink"),
    (ast.LateOp, "sink"),
    (ast.PluginOp, "name"),
    (ast.CallExpr, "name"),
    (ast.FieldAccess, "name"),
    (ast.KeywordArg, "name"),
}
"""The names inside a flow that are not fields of its records (besides a step's `as` name)."""

CONNECTOR_KINDS = {ast.SourceDecl: "source", ast.TableDecl: "table", ast.SinkDecl: "sink"}


def hover(checked: Checked, place: Place) -> tuple[str, Span] | None:
    """The text to show at `place`, and the span it is about."""
    path = nodes_at(checked.program, place)
    if not path:
        return None
    inner, parents = path[-1], path[:-1]
    if isinstance(inner, ast.Ident | ast.NameRef) and parents:
        text = _name(checked, inner, parents, place)
    else:
        text = _operator_keyword(inner)
    return None if text is None else (text, inner.span)


def _operator_keyword(node: ast.Node) -> str | None:
    keyword = OPERATOR_NAMES.get(type(node))
    return describe_operator(keyword) if keyword in OPERATORS else None


def _name(
    checked: Checked, node: ast.Ident | ast.NameRef, parents: list[ast.Node], place: Place
) -> str | None:
    text = node.text if isinstance(node, ast.Ident) else node.name
    parent = parents[-1]
    held_as = role(parent, node)
    if isinstance(parent, ast.ConnectorCall) and held_as == "name":
        kind = CONNECTOR_KINDS.get(type(parents[-2])) if len(parents) > 1 else None
        return None if kind is None else _component(checked.registry.get(kind, text))
    if isinstance(parent, ast.CallExpr) and held_as == "name":
        registry = checked.registry
        return _component(registry.get("function", text) or registry.get("aggregate", text))
    if isinstance(parent, ast.PluginOp) and held_as == "name":
        return _component(checked.registry.get("operator", text))
    if isinstance(parent, ast.FieldDecl) and held_as == "name":
        return f"field `{text}`: `{parent.type.name.text}{'?' if parent.type.optional else ''}`"
    if isinstance(node, ast.NameRef) and text in checked.params:
        return f"param `{text}` = `{param_value(checked, text)}`"
    declared = isinstance(parent, ast.SourceDecl | ast.StreamDecl) and held_as == "name"
    if text in checked.stream_types and (declared or held_as in ("head", "streams", "stream")):
        return _records(f"`{text}`", checked.stream_types[text])
    operator = next((p for p in reversed(parents) if type(p) in OPERATOR_NAMES), None)
    if operator is not None and (type(parent), held_as) not in NOT_FIELDS and held_as != "named":
        return _field(checked, operator, text, place)
    return None


def _field(checked: Checked, operator: ast.Node, name: str, place: Place) -> str | None:
    flow = flow_at(checked.program, place)
    if flow is None:
        return None
    records_in = records_into(checked, flow, place)
    records_out = checked.types.get(operator)  # type: ignore[call-overload]
    for record in (records_in, records_out):
        if record is not None and record.fields is not None and name in record.fields:
            origin = f" (from {record.origin})" if record.origin else ""
            return f"field `{name}`: `{type_text(record.fields[name])}`{origin}"
    return f"field `{name}`: `any` (the records' fields are not known here)"


def _records(what: str, record: RecordType | None) -> str:
    if record is None or record.fields is None:
        return f"{what}: records of any fields"
    fields = "\n".join(f"    {n}: {type_text(t)}" for n, t in record.fields.items())
    return f"{what}: records of\n\n{fields}"


def _component(spec: Spec | None) -> str | None:
    if spec is None:
        return None
    lines = [f"```\n{signature(spec)}\n```", f"{spec.kind} of plugin `{spec.plugin}`"]
    if spec.summary:
        lines.append(spec.summary)
    if spec.delivery:
        lines.append(f"delivery: {spec.delivery}")
    return "\n\n".join(lines)


def param_value(checked: Checked, name: str) -> str:
    """A param's value as written back, a value read through `env()` shown as `env("NAME")`:
    an editor is one more screen a secret must not reach."""
    return Secrets(checked.env.secrets).mask(repr(checked.params[name]))


def type_text(spec: TypeSpec) -> str:
    item = f"[{type_text(spec.item)}]" if spec.item is not None else ""
    return f"{spec.name}{item}{'?' if spec.optional else ''}"
