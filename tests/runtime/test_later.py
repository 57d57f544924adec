"""Components whose module waits until a pipeline names one (`runtime/registry.py`, `Later`):
the standard library's table of them says what each module defines, a registry imports a module
only when asked for one of its components, names clash as if they were imported, and a registry
that adapts its components (guarded sinks) adapts them as they arrive."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import rillet.stdlib
from rillet.runtime.plugin import Later, Plugin, Registry, RegistryError
from rillet.runtime.sinkguard import guard_sinks


def test_the_standard_librarys_table_says_what_each_waiting_module_defines() -> None:
    later = rillet.stdlib.plugin.later
    for module, keys in rillet.stdlib.LATER.items():
        specs = importlib.import_module(f"rillet.stdlib.{module}").plugin.specs
        assert sorted((s.kind, s.name) for s in specs) == sorted(keys)
        for spec in specs:
            waiting = later[(spec.kind, spec.name)]
            assert (waiting.module, waiting.internal) == (f"rillet.stdlib.{module}", spec.internal)
    eager = {(s.kind, s.name) for s in rillet.stdlib.plugin.specs}
    assert not eager & set(later)


_IMPORTS = """
import sys
import rillet.stdlib
from rillet.runtime.plugin import Registry
registry = Registry.from_plugins([rillet.stdlib.plugin])
before = "rillet.stdlib.kafka" in sys.modules
names = registry.names("source")
listed = "rillet.stdlib.kafka" in sys.modules
spec = registry.get("source", "kafka")
print(before, listed, "kafka" in names, spec.name, "rillet.stdlib.kafka" in sys.modules)
"""


def test_a_module_is_imported_when_one_of_its_components_is_asked_for() -> None:
    result = subprocess.run([sys.executable, "-c", _IMPORTS], capture_output=True, check=True)
    assert result.stdout.decode().split() == ["False", "False", "True", "kafka", "True"]


def test_a_waiting_component_is_listed_like_the_others_and_an_internal_one_is_not() -> None:
    registry = Registry.from_plugins([rillet.stdlib.plugin])
    everything = registry.all()
    assert ("sink", "postgres") in {(s.kind, s.name) for s in everything}
    assert "shuffle" not in registry.names("source")
    assert registry.written("source", "shuffle") is None
    shuffle = registry.get("source", "shuffle")
    assert shuffle is not None and shuffle.internal


def test_a_name_waiting_in_one_plugin_clashes_with_another_plugins() -> None:
    mine = Plugin("mine")
    mine.broker("kafka")(type("MyBroker", (), {}))
    with pytest.raises(RegistryError, match="broker `kafka` is defined by both plugin `std` and"):
        Registry.from_plugins([rillet.stdlib.plugin, mine])
    waiting = Plugin("later", later={("broker", "redis"): Later("x.y", "later")})
    with pytest.raises(RegistryError, match="plugin `std` and plugin `later`"):
        Registry.from_plugins([rillet.stdlib.plugin, waiting])


def test_guarded_sinks_are_guarded_as_they_arrive() -> None:
    plain = Registry.from_plugins([rillet.stdlib.plugin])
    guarded = guard_sinks(Registry.from_plugins([rillet.stdlib.plugin]))
    assert ("sink", "sqlite") in guarded.later
    sqlite, unguarded = guarded.get("sink", "sqlite"), plain.get("sink", "sqlite")
    assert sqlite is not None and unguarded is not None
    assert sqlite.obj is not unguarded.obj and sqlite.config is unguarded.config
    assert guarded.get("source", "kafka") == plain.get("source", "kafka")  # only sinks change
