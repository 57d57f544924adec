"""A sink whose output fails (a full disk, a file past its size limit) stops the run with one line
naming the sink, whichever connector it is, rather than with the traceback of an `OSError`
escaping its code: every sink a guarded registry builds turns one into a `ConnectorError`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from msgspec.structs import replace

from .capability import CAPABILITIES, check, declared
from .connector import ConnectorError, SinkContext
from .plugin import Registry, Spec

CALLS = ("open", "write", "precommit", "commit", "watermark", "end_of_input", "aclose")
"""A sink's calls that touch its output (`connector.py`); `restore` only takes a value."""


def _guarded(call: Callable[..., Awaitable[Any]], name: str) -> Callable[..., Awaitable[Any]]:
    async def guarded(*args: Any) -> Any:
        try:
            return await call(*args)
        except OSError as e:
            where = f" {e.filename}" if e.filename else ""
            raise ConnectorError(f"sink `{name}`: cannot write{where}: {e.strerror or e}") from e

    return guarded


class GuardedSink:
    """`sink` with its output calls guarded; every other attribute is the sink's own. Built
    through `_guarded_class`, so it declares the capabilities `sink` declares."""

    def __init__(self, sink: Any, name: str) -> None:
        self._sink = sink
        for call in CALLS:
            if hasattr(sink, call):
                setattr(self, call, _guarded(getattr(sink, call), name))
        for capability in declared(sink):  # what is not an output call, unguarded
            for method in capability.methods:
                if method not in CALLS:
                    setattr(self, method, getattr(sink, method))

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._sink, attribute)


def _guarded_class(cls: type) -> type[GuardedSink]:
    """A `GuardedSink` declaring what `cls` declares, so the run sees the same capabilities."""
    bases = tuple(c for c in CAPABILITIES if issubclass(cls, c))
    return type(f"Guarded{cls.__name__}", (GuardedSink, *bases), {})


def _building_guarded(cls: Any) -> Callable[[Any, SinkContext], GuardedSink]:
    def build(config: Any, context: SinkContext) -> GuardedSink:
        sink = cls(config, context)
        check(sink, context.name)
        return _guarded_class(type(sink))(sink, context.name)

    return build


def guard_sinks(registry: Registry) -> Registry:
    """`registry` with every sink built guarded, those not imported yet as they arrive."""
    specs = {key: _guarded_spec(spec) for key, spec in registry.specs.items()}
    return Registry(specs, dict(registry.later), adapt=_guarded_spec)


def _guarded_spec(spec: Spec) -> Spec:
    return replace(spec, obj=_building_guarded(spec.obj)) if spec.kind == "sink" else spec
