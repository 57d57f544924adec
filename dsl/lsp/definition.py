"""Go to definition: from a name that refers to a declaration (a source or stream a flow reads, a
sink, a table, a schema, a param) to the name in that declaration.

Only the syntax tree is read, so it works while the check still reports errors."""

from __future__ import annotations

from rillet.runtime.plan import Span

from .. import ast
from .locate import Place, nodes_at, role

REFERENCES: dict[tuple[type, str], str] = {
    (ast.Flow, "head"): "flow",
    (ast.UnionHead, "streams"): "flow",
    (ast.JoinOp, "stream"): "flow",
    (ast.Given, "source"): "flow",
    (ast.IntoOp, "sink"): "sink",
    (ast.LateOp, "sink"): "sink",
    (ast.ErrorsDecl, "sink"): "sink",
    (ast.Expect, "sink"): "sink",
    (ast.LookupOp, "table"): "table",
    (ast.SourceDecl, "schema"): "schema",
    (ast.TableDecl, "schema"): "schema",
}
"""Which declarations a name in each place may refer to: `flow` is a source or a stream."""

DECLARATION = (
    ast.SourceDecl | ast.StreamDecl | ast.SinkDecl | ast.TableDecl | ast.SchemaDecl | ast.ParamDecl
)
DECLARES: dict[type, str] = {
    ast.SourceDecl: "flow",
    ast.StreamDecl: "flow",
    ast.SinkDecl: "sink",
    ast.TableDecl: "table",
    ast.SchemaDecl: "schema",
    ast.ParamDecl: "param",
}


def definition(program: ast.Program, place: Place) -> Span | None:
    """The span of the declared name that the name at `place` refers to."""
    path = nodes_at(program, place)
    if len(path) < 2:
        return None
    name, parent = path[-1], path[-2]
    if isinstance(name, ast.NameRef):  # in an expression: a param, if one has that name
        return declarations(program).get(("param", name.name))
    if not isinstance(name, ast.Ident):
        return None
    kind = REFERENCES.get((type(parent), role(parent, name) or ""))
    return None if kind is None else declarations(program).get((kind, name.text))


def declarations(program: ast.Program) -> dict[tuple[str, str], Span]:
    """Each declared name by its kind, at its first declaration (a second is an error)."""
    found: dict[tuple[str, str], Span] = {}
    for statement in program.statements:
        if isinstance(statement, DECLARATION):
            kind = DECLARES[type(statement)]
            found.setdefault((kind, statement.name.text), statement.name.span)
    return found
