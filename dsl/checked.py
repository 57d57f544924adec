"""What the checker hands on: `Checked`, a pipeline whose names, arguments and types are known to
be right, frozen, so the planner and every tool after it (`explain`, `graph`, `test`) read the
same facts and none can change them. The checker fills a `Draft` and freezes it once, at the end
(`checker.py`); only the check stage ever sees a `Draft`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import msgspec
from msgspec import field

from rillet.runtime.plan import SchemaSpec, Settings, UsedPlugin
from rillet.runtime.plugin import Registry

from . import ast
from .environment import Environment
from .types import RecordType


class Draft(msgspec.Struct):
    """The program as the check stage learns it, stage by stage."""

    program: ast.Program
    registry: Registry
    params: dict[str, Any] = field(default_factory=dict)
    settings: Settings = Settings()
    schemas: dict[str, SchemaSpec] = field(default_factory=dict)
    sources: dict[str, tuple[ast.SourceDecl, dict[str, Any]]] = field(default_factory=dict)
    source_parts: dict[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)
    tables: dict[str, tuple[ast.TableDecl, dict[str, Any]]] = field(default_factory=dict)
    sinks: dict[str, tuple[ast.SinkDecl, dict[str, Any]]] = field(default_factory=dict)
    streams: dict[str, ast.StreamDecl] = field(default_factory=dict)
    stream_order: list[str] = field(default_factory=list)
    flows: list[ast.Flow] = field(default_factory=list)
    tests: list[ast.TestDecl] = field(default_factory=list)
    error_sink: str | None = None
    alerts: list[ast.AlertDecl] = field(default_factory=list)
    env: Environment = field(default_factory=Environment)
    times: dict[ast.Operator, ast.EventTimeOp | None] = field(default_factory=dict)
    stream_times: dict[str, ast.EventTimeOp | None] = field(default_factory=dict)
    plugin_arguments: dict[ast.PluginOp, dict[str, Any]] = field(default_factory=dict)
    plugins: list[UsedPlugin] = field(default_factory=list)
    types: dict[ast.Operator, RecordType | None] = field(default_factory=dict)
    stream_types: dict[str, RecordType | None] = field(default_factory=dict)
    delivery: str | None = None

    def freeze(self) -> Checked:
        frozen: dict[str, Any] = {}
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if isinstance(value, dict):
                value = MappingProxyType(value)
            elif isinstance(value, list):
                value = tuple(value)
            frozen[name] = value
        return Checked(**frozen)


@dataclass(frozen=True)
class Checked:
    """A pipeline whose names, arguments and types are known to be right."""

    program: ast.Program
    registry: Registry
    params: Mapping[str, Any]
    settings: Settings
    schemas: Mapping[str, SchemaSpec]
    sources: Mapping[str, tuple[ast.SourceDecl, dict[str, Any]]]
    """Each source's declaration and its config, validated against its connector's."""
    source_parts: Mapping[str, tuple[dict[str, Any], ...]]
    """A hybrid source's further parts' configs (`then`), in order."""
    tables: Mapping[str, tuple[ast.TableDecl, dict[str, Any]]]
    sinks: Mapping[str, tuple[ast.SinkDecl, dict[str, Any]]]
    streams: Mapping[str, ast.StreamDecl]
    stream_order: tuple[str, ...]
    """The streams in dependency order (those in a cycle left out)."""
    flows: tuple[ast.Flow, ...]
    tests: tuple[ast.TestDecl, ...]
    error_sink: str | None
    alerts: tuple[ast.AlertDecl, ...]
    env: Environment
    """What `env()` read; it holds the secrets the planner hands on to the plan."""
    times: Mapping[ast.Operator, ast.EventTimeOp | None]
    """The `event_time` in effect where each operator of a flow reads its records."""
    stream_times: Mapping[str, ast.EventTimeOp | None]
    """The `event_time` in effect at each source's and stream's output."""
    plugin_arguments: Mapping[ast.PluginOp, dict[str, Any]]
    """Each plugin operator's arguments, evaluated once."""
    plugins: tuple[UsedPlugin, ...]
    """The plugins the pipeline `use`s (beside the installed ones), for the plan to record."""
    types: Mapping[ast.Operator, RecordType | None]
    """The records each operator of a flow passes on: their fields and types, when known."""
    stream_types: Mapping[str, RecordType | None]
    """The records at each source's and stream's output."""
    delivery: str | None
    """The guarantee `set delivery` asks of every path, if any (a lint, never enforced)."""


__all__ = ["Checked", "Draft"]
