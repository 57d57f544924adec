"""The plugin API: one way to add functions, aggregates, operators, sources, sinks and tables.

The standard library is written against exactly this API. Decorators attach a `Spec` to the
object and return it unchanged; nothing is registered by importing a module. A `Registry` is a
value built from plugins, so two runs can use different sets side by side.

>>> plugin = Plugin("demo")
>>> @plugin.function("shout")
... def shout(text: str | None) -> str | None:
...     '''Upper-case text with an exclamation mark.'''
...     return None if text is None else text.upper() + "!"
>>> shout("hi")
'HI!'
>>> Registry.from_plugins([plugin]).get("function", "shout").summary
'Upper-case text with an exclamation mark.'
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
from msgspec import field

from .spec import (
    Delivery,
    FunctionContext,
    Kind,
    Param,
    Spec,
    callable_params,
    config_params,
    summary_of,
)

T = TypeVar("T")


class Plugin(msgspec.Struct):
    """A named set of components; a module exposes one as `plugin`."""

    name: str
    specs: list[Spec] = field(default_factory=list)
    later: dict[tuple[Kind, str], Later] = field(default_factory=dict)
    """Components defined in modules imported only once a pipeline names one (`Later`)."""

    def _attach(self, obj: T, spec: Spec) -> T:
        self.specs.append(spec)
        try:
            obj.__rillet_spec__ = spec  # type: ignore[attr-defined]
        except (AttributeError, TypeError):
            pass
        return obj

    def function(self, name: str, *, context: bool = False) -> Callable[[T], T]:
        """A scalar function callable in expressions; gets null arguments as `None`."""

        def decorate(fn: T) -> T:
            params, returns = callable_params(fn, skip=1 if context else 0)  # type: ignore[arg-type]
            spec = Spec(
                "function", name, self.name, fn, params, returns, summary_of(fn), context=context
            )
            return self._attach(fn, spec)

        return decorate

    def aggregate(self, name: str) -> Callable[[T], T]:
        """A class with `add`, `merge`, `result`, `snapshot`, `restore`; constructed per group
        with the aggregate call's arguments after the first (`quantile(x, 0.95)`)."""

        def decorate(cls: T) -> T:
            params, _ = callable_params(cls.add, skip=1)  # type: ignore[attr-defined]
            extra, _ = callable_params(cls.__init__, skip=1)  # type: ignore[misc]
            returns = typing.get_type_hints(cls.result).get("return", Any)  # type: ignore[attr-defined]
            spec = Spec("aggregate", name, self.name, cls, params + extra, returns, summary_of(cls))
            return self._attach(cls, spec)

        return decorate

    def operator(
        self, name: str, *, batch: bool = False, concurrency: int | None = None
    ) -> Callable[[T], T]:
        """An operator: a function of one record (`record` first, keyword arguments after)
        returning a record, `None` to drop it, or a list of records; with `batch=True`, a
        function of a list of records returning a list; an `async def` function, run for up to
        `concurrency` records at once; or a stateful class whose `__init__` takes the keyword
        arguments, with `process(batch) -> list`, and optional `on_watermark(ts_ms) -> list`,
        `snapshot()` and `restore(state)`."""

        def decorate(obj: T) -> T:
            target: Any = obj.__init__ if isinstance(obj, type) else obj  # type: ignore[misc]
            params, returns = callable_params(target, skip=1)
            spec = Spec(
                "operator",
                name,
                self.name,
                obj,
                params,
                returns,
                summary_of(obj),
                batch=batch,
                concurrency=concurrency,
            )
            return self._attach(obj, spec)

        return decorate

    def _connector(
        self,
        kind: Kind,
        name: str,
        config: type[msgspec.Struct],
        delivery: Delivery | None = None,
        shared: bool = False,
        exclusive: str | None = None,
        reads: str | None = None,
        internal: bool = False,
        needs: tuple[str, str] | None = None,
        adds: Callable[[Any], dict[str, Any]] | None = None,
        ends: Callable[[Any], bool] | None = None,
        typed: bool = False,
        encodes: Callable[[Any], bool] | None = None,
    ) -> Callable[[T], T]:
        def decorate(cls: T) -> T:
            spec = Spec(
                kind,
                name,
                self.name,
                cls,
                config_params(config),
                Any,
                summary_of(cls),
                config=config,
                delivery=delivery,
                shared=shared,
                exclusive=exclusive,
                reads=reads,
                internal=internal,
                needs=needs,
                adds=adds,
                ends=ends,
                typed=typed,
                encodes=encodes,
            )
            return self._attach(cls, spec)

        return decorate

    def source(
        self,
        name: str,
        *,
        config: type[msgspec.Struct],
        shared: bool = False,
        reads: str | None = None,
        internal: bool = False,
        needs: tuple[str, str] | None = None,
        adds: Callable[[Any], dict[str, Any]] | None = None,
        ends: Callable[[Any], bool] | None = None,
    ) -> Callable[[T], T]:
        """A class built as `cls(config, context)` implementing `runtime.connector.Source`;
        `shared` when several workers can read it together (`Spec.shared`); `reads` names the
        config field holding the file it reads (`Spec.reads`); `internal`, `needs`, `adds` and
        `ends` as `Spec` says."""
        return self._connector(
            "source",
            name,
            config,
            shared=shared,
            reads=reads,
            internal=internal,
            needs=needs,
            adds=adds,
            ends=ends,
        )

    def sink(
        self,
        name: str,
        *,
        config: type[msgspec.Struct],
        delivery: Delivery = "at-least-once",
        exclusive: str | None = None,
        internal: bool = False,
        needs: tuple[str, str] | None = None,
        typed: bool = False,
        encodes: Callable[[Any], bool] | None = None,
    ) -> Callable[[T], T]:
        """A class built as `cls(config, context)` implementing `runtime.connector.Sink`;
        `exclusive` names the config field holding the file it writes (`Spec.exclusive`);
        `internal`, `needs`, `typed` and `encodes` as `Spec` says."""
        return self._connector(
            "sink",
            name,
            config,
            delivery,
            exclusive=exclusive,
            internal=internal,
            needs=needs,
            typed=typed,
            encodes=encodes,
        )

    def table(
        self,
        name: str,
        *,
        config: type[msgspec.Struct],
        reads: str | None = None,
        needs: tuple[str, str] | None = None,
    ) -> Callable[[T], T]:
        """A class built as `cls(config, context)` that loads keyed rows for `lookup`; `reads`
        and `needs` as for a source."""
        return self._connector("table", name, config, reads=reads, needs=needs)

    def broker(self, scheme: str, *, needs: tuple[str, str] | None = None) -> Callable[[T], T]:
        """What carries a `--workers` run for `--broker` and `--state-store` URLs of `scheme`
        (`redis`): a class built as `cls(url)` with `checkpoint_store(key)` (a
        `CheckpointStore`), `async clear(prefix, clock)` (forget a group's shuffles, `--fresh`) and
        `mismatch(group, edges, checkpoints)` (what the broker and the workers' checkpoints
        disagree about, or None), and a class attribute `shuffle`: the name of its shuffle
        connectors (a source and a sink the plugin registers, configured with the URL, the
        group's key prefix and the keys)."""

        def decorate(cls: T) -> T:
            spec = Spec("broker", scheme, self.name, cls, (), Any, summary_of(cls), needs=needs)
            return self._attach(cls, spec)

        return decorate


# Everything else a plugin may use. The standard library imports the runtime only through this
# module, as third-party plugins do (tests/test_layering.py holds it to that).
from .capability import (  # noqa: E402
    Capability,
    Committing,
    Flushing,
    HearsEventTime,
    KnowsUnread,
    Parted,
    Positioned,
    Reopenable,
    ReportsProgress,
    Seekable,
    Transactional,
)
from .checkpoint import KEEP_CHECKPOINTS, Manifest, not_saved, without_state  # noqa: E402
from .clock import Clock, SystemClock  # noqa: E402
from .connector import (  # noqa: E402
    BadRecord,
    ConnectorError,
    SinkContext,
    SourceBatch,
    SourceContext,
)
from .envelope import Corrupt, seal, unseal  # noqa: E402
from .expr import INT_MAX, INT_MIN, ExprError  # noqa: E402
from .failure import StateMismatch  # noqa: E402
from .item import NEVER, NO_MORE_EVENTS, LazyOffsets  # noqa: E402
from .partition import partition_of  # noqa: E402
from .plan import FieldSpec, SchemaSpec, TypeSpec  # noqa: E402
from .regex import Regex, RegexError, capturing  # noqa: E402
from .registry import Later, Registry, RegistryError  # noqa: E402
from .schema import Schema  # noqa: E402
from .stores import BrokerError  # noqa: E402

__all__ = [
    "INT_MAX",
    "INT_MIN",
    "KEEP_CHECKPOINTS",
    "NEVER",
    "NO_MORE_EVENTS",
    "BadRecord",
    "BrokerError",
    "Capability",
    "Clock",
    "Committing",
    "ConnectorError",
    "Corrupt",
    "ExprError",
    "FieldSpec",
    "Flushing",
    "FunctionContext",
    "HearsEventTime",
    "Kind",
    "KnowsUnread",
    "LazyOffsets",
    "Later",
    "Manifest",
    "Param",
    "Parted",
    "Plugin",
    "Positioned",
    "Regex",
    "RegexError",
    "Registry",
    "RegistryError",
    "Reopenable",
    "ReportsProgress",
    "Schema",
    "SchemaSpec",
    "Seekable",
    "SinkContext",
    "SourceBatch",
    "SourceContext",
    "Spec",
    "StateMismatch",
    "SystemClock",
    "Transactional",
    "TypeSpec",
    "capturing",
    "not_saved",
    "partition_of",
    "seal",
    "unseal",
    "without_state",
]
