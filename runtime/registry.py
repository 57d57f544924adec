"""A `Registry`: the components of a set of plugins by kind and name, a value built from them
(never a global filled at import time), so two runs can use different sets side by side."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterable
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


class Later(msgspec.Struct, frozen=True):
    """A component a plugin names without importing the module that defines it: the module
    is imported when a pipeline first names the component (`Registry.get`). The standard
    library's connectors wait so: a run starts without importing the brokers' and the
    databases' code it does not use (about a twentieth of a short run)."""

    module: str
    plugin: str
    internal: bool = False


class Registry(msgspec.Struct, frozen=True):
    specs: dict[tuple[Kind, str], Spec]
    later: dict[tuple[Kind, str], Later] = msgspec.field(default_factory=dict)
    """Components whose module is not imported yet; each moves to `specs` when asked for."""
    adapt: Callable[[Spec], Spec] | None = None
    """What a component becomes in this registry as it arrives from `later`
    (`sinkguard.guard_sinks`)."""

    @classmethod
    def from_plugins(cls, plugins: Iterable[Plugin]) -> Registry:
        specs: dict[tuple[Kind, str], Spec] = {}
        later: dict[tuple[Kind, str], Later] = {}
        for plugin in plugins:
            defined: list[tuple[tuple[Kind, str], Spec | Later]] = [
                ((s.kind, s.name), s) for s in plugin.specs
            ]
            for key, entry in [*defined, *plugin.later.items()]:
                found = specs.get(key) or later.get(key)
                if found is not None:
                    raise RegistryError(
                        f"{key[0]} `{key[1]}` is defined by both plugin `{found.plugin}` "
                        f"and plugin `{entry.plugin}`"
                    )
                if isinstance(entry, Later):
                    later[key] = entry
                else:
                    specs[key] = entry
        return cls(specs, later)

    def get(self, kind: Kind, name: str) -> Spec | None:
        key = (kind, name)
        spec = self.specs.get(key)
        if spec is None and key in self.later:
            self._import(self.later[key].module)
            spec = self.specs.get(key)
        return spec

    def written(self, kind: Kind, name: str) -> Spec | None:
        """The component a pipeline can name: not an internal one."""
        spec = self.get(kind, name)
        return None if spec is None or spec.internal else spec

    def names(self, kind: Kind) -> list[str]:
        """The names a pipeline can use, without importing what waits in `later`."""
        named = [s.name for s in self.specs.values() if s.kind == kind and not s.internal]
        return sorted(
            named + [n for (k, n), w in self.later.items() if k == kind and not w.internal]
        )

    def all(self) -> list[Spec]:
        """Every component a pipeline can name."""
        for module in {w.module for w in self.later.values()}:
            self._import(module)
        listed = (s for s in self.specs.values() if not s.internal)
        return sorted(listed, key=lambda s: (s.kind, s.name))

    def _import(self, module: str) -> None:
        """Move the components `module` defines from `later` into `specs`."""
        for spec in importlib.import_module(module).plugin.specs:
            key = (spec.kind, spec.name)
            waiting = self.later.get(key)
            if waiting is not None and waiting.module == module:
                del self.later[key]
                self.specs[key] = spec if self.adapt is None else self.adapt(spec)
