"""Checking a hybrid source (`file("history/*.jsonl") then kafka(...)`): each further part's
arguments are checked as any source's, at the part, and every part but the last must end by
itself, since the next one is read only once it has. The first part is checked with the other
connectors (`checker.py`); the configs of the others go to `Draft.source_parts`. Read next:
`runtime/hybrid.py`, the source made of the parts.
"""

from __future__ import annotations

from typing import Any

from . import ast
from .checked import Checked, Draft
from .connectorcheck import ConnectorArguments
from .diagnostic import Report, error
from .exprcheck import unknown_field
from .types import RecordType


def parts_of(c: Draft | Checked, name: str) -> list[tuple[ast.ConnectorCall, dict[str, Any]]]:
    """Source `name`'s parts with their configs: one for a plain source."""
    decl, first = c.sources[name]
    configs = (first, *c.source_parts.get(name, ()))
    return list(zip(decl.parts, configs, strict=False))


def check_hybrid_sources(c: Draft, arguments: ConnectorArguments, report: Report) -> None:
    for name, (decl, first) in c.sources.items():
        if decl.after is not None:
            _after(c, decl, report)
        if not decl.then:
            continue
        configs = [first]
        for call in decl.then:
            config = arguments.config(call, "source")
            configs.append(config if config is not None else {})
        c.source_parts[name] = tuple(configs[1:])
        for call, config, following in zip(decl.parts, configs, decl.then, strict=False):
            spec = c.registry.get("source", call.name.text)
            if spec is not None and spec.bounded(config) is False:
                report(
                    error(
                        "E0411",
                        f"source `{name}` never reaches its `then`: `{call.name.text}` here "
                        "never ends",
                        call.span,
                        "reads for ever",
                        f"`{following.name.text}` is read once the part before it has ended: "
                        "make this part one that ends (a `file` without `follow=true`, a "
                        "broker read with `until_empty=true`), or make it the last part",
                    )
                )


def _after(c: Draft, decl: ast.SourceDecl, report: Report) -> None:
    """`after FIELD` needs a part to drop records of, and a field the records have."""
    assert decl.after is not None
    if not decl.then:
        report(
            error(
                "E0412",
                f"`after {decl.after.text}` without `then`",
                decl.after.span,
                "no later part to drop records of",
                "`after` belongs to a hybrid source: `file(...) then kafka(...) after ts`",
            )
        )
        return
    schema = c.schemas.get(decl.schema.text) if decl.schema else None
    record = RecordType.of_schema(schema) if schema is not None else None
    if record is not None and record.fields is not None and decl.after.text not in record.fields:
        report(unknown_field(decl.after.text, decl.after.span, record, "`after`"))
