"""What is installed, remembered between runs (runtime/installed.py): the plugins' entry points
and rillet's version as importlib finds them, read back while no folder Python imports from has
changed, looked up again once one has (a package installed) or the cache is unreadable; one
cache per Python environment."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from rillet.runtime import installed
from rillet.runtime.installed import Announced, announced, rillet_version
from rillet.runtime.plugin import Plugin


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    installed.installed.cache_clear()  # once a process: each test asks afresh


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    looked_up: list[int] = []
    look_up = installed._look_up

    def counted() -> tuple[list[Announced], str]:
        looked_up.append(1)
        return look_up()

    monkeypatch.setattr(installed, "_look_up", counted)
    return looked_up


def test_the_entry_points_are_importlibs_and_the_second_lookup_reads_them_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from importlib.metadata import entry_points, version

    looked_up = _counting(monkeypatch)
    first = announced()
    assert first[0] == Announced("std", "rillet.stdlib:plugin")
    assert {(e.name, e.value) for e in entry_points(group="rillet.plugins")} == {
        (e.name, e.value) for e in first
    }
    assert version("rillet") == rillet_version()
    installed.installed.cache_clear()  # as a new process would
    assert announced() == first
    assert len(looked_up) == 1


def test_a_changed_folder_on_the_path_looks_them_up_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setattr(sys, "path", [*sys.path, str(site)])
    looked_up = _counting(monkeypatch)
    for change in (None, "new_package-1.0.dist-info"):
        if change:
            (site / change).mkdir()  # as pip installs one
        for _ in range(2):
            installed.installed.cache_clear()  # each a new process
            announced()
    assert len(looked_up) == 2


def test_an_unreadable_cache_looks_them_up_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up = _counting(monkeypatch)
    announced()
    kept = installed._cache_file()
    assert kept is not None and kept.parent == tmp_path / "cache" / "rillet"
    kept.write_bytes(b"\xc1")
    installed.installed.cache_clear()
    assert announced()[0].name == "std"
    assert len(looked_up) == 2


def test_each_python_environment_keeps_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    looked_up = _counting(monkeypatch)
    for prefix in ("/venvs/a", "/venvs/b", "/venvs/a", "/venvs/b"):  # runs in turn in each
        monkeypatch.setattr(sys, "prefix", prefix)
        installed.installed.cache_clear()
        announced()
    assert len(looked_up) == 2


def test_an_entry_point_loads_its_object() -> None:
    assert isinstance(Announced("std", "rillet.stdlib:plugin").load(), Plugin)
    nested = Announced("x", "rillet.runtime.installed : Announced.load [extra]")
    assert nested.load() is Announced.load
