"""A component's signature as a pipeline author reads it (`file(path: str, ...)`): one text for
`rillet plugins` and the language server's hover and completion, so both show the same."""

from __future__ import annotations

from typing import Any

from rillet.runtime.plugin import Spec


def signature(spec: Spec) -> str:
    if spec.kind == "broker":  # named by its URLs' scheme
        return f"{spec.name}://"

    parts = []
    for p in spec.params:
        text = f"{p.name}: {annotation_text(p.annotation)}"
        parts.append(text if p.required else f"{text} = {p.default!r}")
    has_result = spec.kind in ("function", "aggregate") or (
        spec.kind == "operator" and not isinstance(spec.obj, type)
    )
    returns = f" -> {annotation_text(spec.returns)}" if has_result else ""
    return f"{spec.name}({', '.join(parts)}){returns}"


def annotation_text(annotation: Any) -> str:
    """A Python annotation as the author reads it: `str`, `int | None`, `Literal['csv']`."""
    return (
        annotation.__name__
        if isinstance(annotation, type)
        else str(annotation).replace("typing.", "")
    )
