"""Finding plugins: installed packages through the `rillet.plugins` entry-point group (the
standard library announces itself there too), and the modules a pipeline names with `use`.

A plugin that fails to load, or two that define the same name, become diagnostics at the `use`
that brought them in, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

from rillet.runtime.plan import UsedPlugin
from rillet.runtime.plugin import Plugin, Registry, RegistryError
from rillet.runtime.pluginload import announced, import_used, used_path

from . import ast
from .diagnostic import Diagnostic, error, warning


def installed_plugins() -> tuple[list[Plugin], list[Diagnostic]]:
    """The installed plugins that load and do not clash with one loaded before them (the
    standard library first). The others are left out with a warning, so one broken package
    does not stop every pipeline; a pipeline that calls into it gets "unknown" errors."""
    plugins: list[Plugin] = []
    diagnostics = []
    for entry in announced():
        hint = f"it is announced by entry point `{entry.name} = {entry.value}`"
        try:
            loaded = entry.load()
        except Exception as e:  # a broken third-party package must not take rillet down
            diagnostics.append(
                warning(
                    "W0601",
                    f"installed plugin `{entry.name}` failed to load: {type(e).__name__}: {e}",
                    None,
                    "",
                    hint,
                )
            )
            continue
        if not isinstance(loaded, Plugin):
            diagnostics.append(
                warning(
                    "W0602",
                    f"installed plugin `{entry.name}` is not a `rillet.runtime.plugin.Plugin`",
                    None,
                    "",
                    hint,
                )
            )
            continue
        try:
            Registry.from_plugins([*plugins, loaded])
        except RegistryError as e:
            diagnostics.append(
                warning("W0603", f"installed plugin `{entry.name}` left out: {e}", None, "", hint)
            )
            continue
        plugins.append(loaded)
    return plugins, diagnostics


def _load_use(use: ast.UseDecl, base_dir: Path) -> tuple[Plugin | None, Diagnostic | None]:
    what = f'"{use.target}"' if use.is_path else use.target
    used = UsedPlugin(use.target, use.is_path)
    try:
        if use.is_path and not used_path(used, base_dir).is_file():
            return None, error(
                "E0603",
                f"plugin file {what} does not exist",
                use.span,
                "no such file",
                f"looked for {used_path(used, base_dir)}",
            )
        module = import_used(used, base_dir)
    except ModuleNotFoundError as e:
        return None, error(
            "E0604",
            f"cannot import plugin `{use.target}`",
            use.span,
            f"no module named `{e.name}`",
            "is the package installed here?",
        )
    except Exception as e:  # the module's own code failed; show its message, not a traceback
        return None, error(
            "E0605", f"plugin {what} failed to load", use.span, f"{type(e).__name__}: {e}"
        )
    plugin = getattr(module, "plugin", None)
    if not isinstance(plugin, Plugin):
        return None, error(
            "E0606",
            f"plugin {what} has no `plugin` object",
            use.span,
            'expected a module-level `plugin = Plugin("name")`',
        )
    return plugin, None


def build_registry(
    uses: list[ast.UseDecl], base_dir: Path
) -> tuple[Registry, list[UsedPlugin], list[Diagnostic]]:
    """The registry of the installed plugins and those `uses` name; the `use`d ones that
    loaded, for the plan to record."""
    plugins, diagnostics = installed_plugins()
    registry = Registry.from_plugins(plugins)
    recorded: list[UsedPlugin] = []
    for use in uses:
        plugin, problem = _load_use(use, base_dir)
        if problem is not None:
            diagnostics.append(problem)
            continue
        assert plugin is not None
        if any(plugin is p for p in plugins):
            continue
        try:
            registry = Registry.from_plugins([*plugins, plugin])
        except RegistryError as e:
            diagnostics.append(
                error(
                    "E0607", str(e), use.span, "clashing names", "rename one of them in its plugin"
                )
            )
            continue
        plugins.append(plugin)
        recorded.append(UsedPlugin(use.target, use.is_path))
    return registry, recorded, diagnostics
