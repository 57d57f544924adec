"""Where a run keeps its checkpoints, chosen in this one place: a folder beside the pipeline
file (`.rillet/<pipeline>/`), the folder of `--state-dir`, or the store of the broker named by
`--state-store`; a worker of a `--workers` run in a place of its own inside it (`worker-<i>`).
Brokers come from plugins (`Plugin.broker`), found by their URL's scheme. A store that can keep
segments gets incremental checkpoints (`segments.py`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .checkpoint import CheckpointStore, FileCheckpointStore
from .registry import Registry, missing
from .segments import segmented


class BrokerError(Exception):
    """A `--broker` or `--state-store` URL no installed plugin can serve (exit 2)."""


def broker(registry: Registry, url: str) -> Any:
    """The broker serving `url`, from the plugin registered for its scheme."""
    scheme = urlsplit(url).scheme
    spec = registry.get("broker", scheme)
    if spec is None:
        known = ", ".join(f"{name}://" for name in registry.names("broker")) or "none installed"
        raise BrokerError(
            f"no broker serves `{url}`\n  hint: the URL must start with one of: {known}"
        )
    install = missing(spec)
    if install is not None:
        raise BrokerError(
            f"the {scheme} broker of `{url}` needs a Python package that is not installed\n"
            f"  hint: pip install '{install}'"
        )
    return spec.obj(url)


def checkpoint_store(
    registry: Registry,
    pipeline_file: str,
    *,
    state_dir: str | None,
    state_store: str | None,
    group: str,
    worker: int | None = None,
) -> CheckpointStore:
    """The store of a run of `pipeline_file`, or of its worker `worker`."""
    own = None if worker is None else f"worker-{worker}"
    if state_store:
        key = f"rillet:{group}:state" + (f":{own}" if own else "")
        return segmented(broker(registry, state_store).checkpoint_store(key))
    if state_dir:
        folder = Path(state_dir)
    else:
        pipeline = Path(pipeline_file).resolve()
        folder = pipeline.parent / ".rillet" / pipeline.stem
    return segmented(FileCheckpointStore(folder / own if own else folder))


__all__ = ["BrokerError", "broker", "checkpoint_store"]
