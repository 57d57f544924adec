"""What is installed, remembered between runs: the plugins' entry points (the `rillet.plugins`
group) and rillet's own version (a checkpoint records it). Asking `importlib.metadata` imports
it and reads every installed package's metadata, about a tenth of a short run's start-up, to
find what rarely changes.

What was found is kept with the folders Python imports from (`sys.path`) and the time each
last changed: installing or removing a package changes its folder (pip adds or renames its
`.dist-info`), so a different list or time looks them up again. Kept in the user's cache
folder beside the grammar's tables, one file per Python environment (`sys.prefix`), so that
runs in two virtual environments do not undo each other's; a cache that cannot be read or
written is passed by.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import zlib
from pathlib import Path

import msgspec

from .usercache import cache_folder, keep

GROUP = "rillet.plugins"


class Announced(msgspec.Struct, frozen=True):
    """One entry point: `name = value`, where value is `module:attribute`."""

    name: str
    value: str

    def load(self) -> object:
        module, _, attribute = self.value.partition("[")[0].strip().partition(":")
        found: object = importlib.import_module(module.strip())
        for part in filter(None, attribute.strip().split(".")):
            found = getattr(found, part)
        return found


class Installed(msgspec.Struct):
    folders: list[tuple[str, int]]
    """Where Python imports from, with when each last changed (`_folders`)."""
    announced: list[Announced]
    """The plugins' entry points, the standard library's first."""
    version: str
    """rillet's version."""


def announced() -> list[Announced]:
    """The installed plugins' entry points, the standard library's first."""
    return installed().announced


def rillet_version() -> str:
    return installed().version


@functools.cache
def installed() -> Installed:
    folders = _folders()
    kept = _cache_file()
    if kept is not None:
        try:
            remembered = msgspec.msgpack.decode(kept.read_bytes(), type=Installed)
        except (OSError, msgspec.DecodeError):
            pass
        else:
            if remembered.folders == folders:
                return remembered
    found = Installed(folders, *_look_up())
    if kept is not None:
        keep(kept, msgspec.msgpack.encode(found))
    return found


def _look_up() -> tuple[list[Announced], str]:
    from importlib.metadata import entry_points, version

    found = [Announced(e.name, e.value) for e in entry_points(group=GROUP)]
    return sorted(found, key=lambda e: e.name != "std"), version("rillet")


def _folders() -> list[tuple[str, int]]:
    """Each place on `sys.path` with when it last changed (-1: not there)."""
    folders = []
    for entry in sys.path:
        path = os.path.abspath(entry or os.curdir)
        try:
            folders.append((path, os.stat(path).st_mtime_ns))
        except OSError:
            folders.append((path, -1))
    return folders


def _cache_file() -> Path | None:
    try:
        return cache_folder() / f"installed-{zlib.crc32(sys.prefix.encode()):08x}.msgpack"
    except RuntimeError:  # no home folder to be found
        return None


__all__ = ["GROUP", "Announced", "Installed", "announced", "installed", "rillet_version"]
