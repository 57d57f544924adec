"""A pipeline's identity for its checkpoints: hashes of the file's text, of each `-p` value and
of the plugins it `use`s, and what changed between the run that took a checkpoint and the run
resuming from it."""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Iterable, Mapping
from pathlib import Path

from rillet.runtime.checkpoint import Manifest, PipelineIdentity
from rillet.runtime.installed import rillet_version
from rillet.runtime.plan import UsedPlugin


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def identity(
    text: str,
    params: Mapping[str, str],
    plugins: Iterable[UsedPlugin] = (),
    base_dir: Path = Path("."),
) -> PipelineIdentity:
    versions = {"rillet": rillet_version()}
    versions |= {p.target: _plugin_version(p, base_dir) for p in plugins}
    return PipelineIdentity(
        _digest(text), {name: _digest(v) for name, v in params.items()}, versions
    )


def _plugin_version(plugin: UsedPlugin, base_dir: Path) -> str:
    """A plugin file's hash; a module's installed version, else its file's hash."""
    if plugin.is_path:
        return _file_digest(base_dir / plugin.target)
    from importlib.metadata import PackageNotFoundError, version  # only for a module `use`d

    top = plugin.target.split(".")[0]
    try:
        return version(top)
    except PackageNotFoundError:
        spec = importlib.util.find_spec(plugin.target)
        origin = spec.origin if spec is not None else None
        return _file_digest(Path(origin)) if origin else "unknown"


def _file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return "unreadable"


def changed_since(saved: Manifest, now: PipelineIdentity) -> str | None:
    """A warning when `now` is not what `saved` was taken with (None when it is, or when the
    checkpoint predates identities). A plugin or rillet upgraded is not warned about: the
    state's fit is checked operator by operator."""
    then = saved.pipeline
    if then is None or (then.file, then.params) == (now.file, now.params):
        return None
    what = ["the pipeline file"] if then.file != now.file else []
    params = sorted(
        n for n in {*then.params, *now.params} if then.params.get(n) != now.params.get(n)
    )
    if params:
        what.append("-p " + ", ".join(params))
    return (
        f"{' and '.join(what)} changed since checkpoint {saved.checkpoint_id}: the run "
        "goes on from it with the state that still fits; --fresh starts over"
    )
