"""A `Registry`: the components of a set of plugins by kind and name, a value built from them
(never a global filled at import time), so two runs can use different sets side by side."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from .plugin import Kind, Plugin, Spec


def missing(spec: Spec) -> str | None:
    """What to `pip install` for `spec`, when the module it needs is not installed."""
    if spec.needs is None:
        return None
    module, install = spec.needs
    try:
        found = importlib.util.find_spec(module)
    except ValueError:  # a module taken out of `sys.modules`
        found = None
    return install if found is None else None


class RegistryError(Exception):
    """Two plugins define the same component name for one kind."""


class Registry(msgspec.Struct, frozen=True):
    specs: dict[tuple[Kind, str], Spec]

    @classmethod
    def from_plugins(cls, plugins: Iterable[Plugin]) -> Registry:
        specs: dict[tuple[Kind, str], Spec] = {}
        for plugin in plugins:
            for spec in plugin.specs:
                key = (spec.kind, spec.name)
                if key in specs:
                    other = specs[key]
                    raise RegistryError(
                        f"{spec.kind} `{spec.name}` is defined by both plugin `{other.plugin}` "
                        f"and plugin `{spec.plugin}`"
                    )
                specs[key] = spec
        return cls(specs)

    def get(self, kind: Kind, name: str) -> Spec | None:
        return self.specs.get((kind, name))

    def written(self, kind: Kind, name: str) -> Spec | None:
        """The component a pipeline can name: not an internal one."""
        spec = self.specs.get((kind, name))
        return None if spec is None or spec.internal else spec

    def names(self, kind: Kind) -> list[str]:
        return sorted(s.name for s in self.all() if s.kind == kind)

    def all(self) -> list[Spec]:
        """Every component a pipeline can name."""
        listed = (s for s in self.specs.values() if not s.internal)
        return sorted(listed, key=lambda s: (s.kind, s.name))
