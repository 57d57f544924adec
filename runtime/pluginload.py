"""Loading plugins: the installed ones, announced through the `rillet.plugins` entry-point group
(the standard library too), and those a pipeline names with `use`, which its plan records
(`Plan.plugins`), so a plan runs on its own: `registry_of(plan)` builds the registry it needs.
The front end (`dsl/loader.py`) loads through the same functions and turns every failure into
a diagnostic at the `use` that caused it."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from .installed import announced
from .plan import Plan, UsedPlugin
from .plugin import Plugin
from .registry import Registry, RegistryError


def import_path(path: Path) -> ModuleType:
    """The module of a plugin file, imported once per path and content: an unchanged file is
    not run twice, and one edited while the process lives (`run --watch`) is imported anew."""
    digest = hashlib.sha1(str(path).encode() + b"\0" + path.read_bytes()).hexdigest()[:12]
    name = f"rillet_use_{path.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def used_path(used: UsedPlugin, base_dir: Path) -> Path:
    """The file a `use "path"` names: relative to the pipeline's folder, as written."""
    return (base_dir / used.target).resolve()


def import_used(used: UsedPlugin, base_dir: Path) -> ModuleType:
    """The module a `use` names: a file, or an importable module."""
    if used.is_path:
        return import_path(used_path(used, base_dir))
    return importlib.import_module(used.target)


def registry_of(plan: Plan) -> Registry:
    """The registry `plan` runs with: the installed plugins that load and fit together, and
    the plugins its pipeline `use`d (which the check has loaded once already)."""
    plugins: list[Plugin] = []
    for entry in announced():
        try:
            loaded = entry.load()
            if isinstance(loaded, Plugin):
                Registry.from_plugins([*plugins, loaded])
                plugins.append(loaded)
        except Exception:  # as the check does: a broken package is left out, not fatal
            continue
    for used in plan.plugins:
        plugin = getattr(import_used(used, Path(plan.base_dir)), "plugin", None)
        if not isinstance(plugin, Plugin):
            raise RegistryError(f"plugin `{used.target}` has no `plugin` object")
        if not any(plugin is p for p in plugins):
            plugins.append(plugin)
    return Registry.from_plugins(plugins)


__all__ = [
    "announced",
    "import_path",
    "import_used",
    "registry_of",
    "used_path",
]
