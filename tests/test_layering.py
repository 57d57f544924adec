"""The dependency rules of docs/architecture.md ("What may import what"): `runtime` imports
nothing else of rillet and never lark, rich or prometheus-client (bar its `monitor/`, which may
draw and serve, reads a run through `ObservedRun` and is imported by none of the rest);
`stdlib` imports the runtime only through `rillet.runtime.plugin`, the surface third-party
plugins use; `dsl` reaches the standard library only through the plugin registry; nothing
imports the bare folder names."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGES = ("dsl", "runtime", "stdlib", "flink")
MONITOR = REPO / "runtime" / "monitor"


def imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def modules(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def runtime_core() -> list[Path]:
    return [p for p in modules("runtime") if not p.is_relative_to(MONITOR)]


def monitor_modules() -> list[Path]:
    return sorted(MONITOR.rglob("*.py"))


@pytest.mark.parametrize("path", runtime_core(), ids=lambda p: p.name)
def test_runtime_imports_no_front_end_or_stdlib(path: Path) -> None:
    bad = {
        n
        for n in imports(path)
        if n.split(".")[0] in ("lark", "rich", "prometheus_client")
        or n.startswith(("rillet.dsl", "rillet.stdlib", "rillet.runtime.monitor"))
    }
    assert not bad


@pytest.mark.parametrize("path", modules("stdlib"), ids=lambda p: p.name)
def test_stdlib_imports_the_runtime_only_through_the_plugin_surface(path: Path) -> None:
    """The standard library is a plugin like any other: what it needs of rillet is what a
    third-party plugin can import, `rillet.runtime.plugin`."""
    assert not {
        n
        for n in imports(path)
        if n.startswith("rillet.")
        and n != "rillet.runtime.plugin"
        and not n.startswith("rillet.stdlib")
    }


@pytest.mark.parametrize("path", modules("dsl"), ids=lambda p: p.name)
def test_front_end_finds_the_standard_library_only_through_the_registry(path: Path) -> None:
    """The front end knows connectors, checkpoint stores and brokers by the names plugins
    register, so the standard library is replaceable as any plugin is."""
    assert not {n for n in imports(path) if n.startswith("rillet.stdlib")}


@pytest.mark.parametrize("path", monitor_modules(), ids=lambda p: p.name)
def test_monitor_imports_runtime_only_and_reads_a_run_through_its_interface(path: Path) -> None:
    """`runtime/monitor/` may draw with rich and serve prometheus-client's metrics, but knows a
    run only as `ObservedRun` (`observed.py`), never `run.py`'s `Execution`."""
    assert not {
        n
        for n in imports(path)
        if n.split(".")[0] == "lark"
        or n.startswith(("rillet.dsl", "rillet.stdlib", "rillet.runtime.run"))
    }


@pytest.mark.parametrize("path", modules("flink"), ids=lambda p: p.name)
def test_flink_translator_reads_only_the_plan(path: Path) -> None:
    """`rillet.flink` translates a plan, whatever wrote it: of rillet it imports the plan IR
    and what finds the plan's plugins (their functions become UDFs, their operators' declared
    records table functions: `recordtype`), and never PyFlink at import time (the job it
    writes imports that). `pyops.py`, which the job's Python workers
    run, reuses the embedded engine's meaning of indexing and `in`. `streamjob.py` and
    `dedupejob.py` are the job's own code, pasted into the script as text: PyFlink and nothing
    of rillet."""
    if path.name in ("streamjob.py", "dedupejob.py"):
        assert not {n for n in imports(path) if n.startswith("rillet")}
        return
    assert not re.search(r"import (stream|dedupe)job|(stream|dedupe)job import", path.read_text())
    allowed = {"rillet.runtime.plan", "rillet.runtime.pluginload", "rillet.runtime.registry"}
    allowed |= {"rillet.runtime.spec", "rillet.runtime.recordtype"} | (
        {"rillet.runtime.expr"} if path.name == "pyops.py" else set()
    )
    assert not {
        n
        for n in imports(path)
        if (n.startswith("rillet.") and n not in allowed and not n.startswith("rillet.flink"))
        or n.split(".")[0] == "pyflink"
    }


@pytest.mark.parametrize(
    "path", [p for pkg in PACKAGES for p in modules(pkg)], ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_no_bare_package_imports(path: Path) -> None:
    assert not {n for n in imports(path) if n.split(".")[0] in PACKAGES}
