"""What a plugin registers: a `Spec` per component, with its `Param`s read from the Python
signature or config Struct that declares it (`plugin.py`'s decorators build them)."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any, Literal

import msgspec

Kind = Literal["function", "aggregate", "operator", "source", "sink", "table", "broker"]
Delivery = Literal["exactly-once", "at-least-once", "at-most-once"]


class Param(msgspec.Struct, frozen=True):
    """A parameter of a component: its name, annotated type, and default when optional."""

    name: str
    annotation: Any
    required: bool
    default: Any = None
    keyword_only: bool = False


class Spec(msgspec.Struct, frozen=True):
    kind: Kind
    name: str
    plugin: str
    obj: Any
    params: tuple[Param, ...]
    returns: Any = Any
    summary: str = ""
    config: type[msgspec.Struct] | None = None
    delivery: Delivery | None = None
    context: bool = False
    """A function that takes the run's `FunctionContext` as its first argument (e.g. `now()`)."""
    batch: bool = False
    """An operator function that takes and returns a whole batch (a list of records)."""
    concurrency: int | None = None
    """How many calls of an `async def` operator may run at once, unless the pipeline says."""
    shared: bool = False
    """A source that several workers can read together, each getting its own share (a broker's
    consumer group), so `rillet run --workers` may use it."""
    exclusive: str | None = None
    """A sink's config field naming the file it writes: two sinks of a pipeline naming the same
    file are a check-time error, since each would start it over and write across the other."""
    reads: str | None = None
    """A source's or table's config field naming the file (or glob) it reads: `rillet check`
    says when it is not there, and where a relative path was looked for."""
    needs: tuple[str, str] | None = None
    """A Python module the component imports when it runs, and what to `pip install` when that
    is missing (`("redis", "rillet[redis]")`): the checker says so at the pipeline's line."""
    internal: bool = False
    """A connector rillet puts into a plan itself (the shuffle between workers), never written
    in a pipeline: not listed, not suggested, and unknown to the checker."""
    adds: Callable[[Any], dict[str, Any]] | None = None
    """A source's fields beyond what it reads: a function of its config Struct giving each field
    it adds to every record, with its Python type (`{"kafka_partition": int}`), so that the
    checker knows them under a schema too (`added_fields`)."""

    typed: bool = False
    """A sink that takes the type of the records written into it, when the checker knows it
    (`SinkContext.schema`): a table format's column types (`parquet`, `delta`)."""
    ends: Callable[[Any], bool] | None = None
    """Whether a source's input ends by itself under its config Struct (`file` without
    `follow`): the checker refuses what would never emit on an endless input (`bounded`)."""
    encodes: Callable[[Any], bool] | None = None
    """Whether a sink, under its config Struct, only encodes its records with msgspec (a jsonl
    file): then the runtime may hand it rows that are Structs rather than dicts, which are
    cheaper to build, encode and free (`encodes_rows`)."""

    def added_fields(self, config: dict[str, Any]) -> dict[str, Any]:
        """The fields this source adds to every record under `config` (its arguments as the
        checker evaluated them); none when they do not make a valid config."""
        return self._of_config(self.adds, config, {})

    def bounded(self, config: dict[str, Any]) -> bool | None:
        """Whether this source's input ends under `config`; None when the source does not say
        (`stdin` ends with its pipe) or the config is not valid."""
        return self._of_config(self.ends, config, None)

    def encodes_rows(self, config: dict[str, Any]) -> bool:
        """Whether this sink takes rows that are Structs under `config` (`encodes`)."""
        return bool(self._of_config(self.encodes, config, False))

    def _of_config(self, declared: Callable[[Any], Any] | None, config: dict, default: Any) -> Any:
        if declared is None or self.config is None:
            return default
        try:
            return declared(msgspec.convert(config, self.config))
        except msgspec.ValidationError:
            return default


class FunctionContext(msgspec.Struct, frozen=True):
    """What a context-taking function may read: the run's clock."""

    clock: Any


def summary_of(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().split("\n\n")[0].replace("\n", " ")


def callable_params(fn: Callable[..., Any], skip: int) -> tuple[tuple[Param, ...], Any]:
    hints = typing.get_type_hints(fn)
    params = []
    for p in list(inspect.signature(fn).parameters.values())[skip:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        required = p.default is inspect.Parameter.empty
        params.append(
            Param(
                name=p.name,
                annotation=hints.get(p.name, Any),
                required=required,
                default=None if required else p.default,
                keyword_only=p.kind is p.KEYWORD_ONLY,
            )
        )
    return tuple(params), hints.get("return", Any)


def config_params(config: type[msgspec.Struct]) -> tuple[Param, ...]:
    """The parameters of a connector: its config Struct's fields, in positional order, each
    under the name a pipeline writes (a field renamed with `msgspec.field(name="from")` is
    argument `from`, a Python keyword)."""
    params = []
    for f in msgspec.structs.fields(config):
        required = f.required
        default = (
            None
            if required
            else (f.default if f.default is not msgspec.NODEFAULT else f.default_factory())
        )
        params.append(Param(f.encode_name, f.type, required, default))
    return tuple(params)


__all__ = [
    "Delivery",
    "FunctionContext",
    "Kind",
    "Param",
    "Spec",
    "callable_params",
    "config_params",
    "summary_of",
]
