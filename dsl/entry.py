"""The `rillet` command's entry point (`[project.scripts]`): `cli.main`, with the cyclic
collector paused while the command's modules are imported. Importing them makes only objects
that live as long as the process (classes, functions, module tables), so a collection during it
would walk them in vain: about 5 % of a short run's start-up. `python -m rillet.dsl.entry` is
the same command (what the benchmarks time); `python -m rillet.dsl.cli` runs it without this."""

from __future__ import annotations

import gc
import sys


def main() -> int:
    collecting = gc.isenabled()
    gc.disable()
    try:
        from .cli import main as command
    finally:
        if collecting:
            gc.enable()
    return command()


if __name__ == "__main__":
    sys.exit(main())
