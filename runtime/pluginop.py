"""Running plugin operators: per-record, per-batch and `async def` functions, and stateful
classes, behind the same `Operator` protocol as the built-in ones.

A plugin that raises on a record sends that record to the error sink, naming the plugin, the
operator and the exception; a stateful class that raises in `process` sends the whole batch
(its state may have changed part way, so no record of it is retried). Records a class or a
batch function returns carry no source offset. A returned `msgspec.Struct` is a record like a
dict (the type a function may declare as its return, `recordtype.py`).
"""

from __future__ import annotations

import inspect
from typing import Any

import anyio

from .failure import PipelineError
from .item import END_OF_TIME, Batch
from .operator import Output, StatelessOperator
from .plugin import Spec
from .recordtype import as_record


def _raised(spec: Spec, error: BaseException) -> str:
    return f"plugin `{spec.plugin}` operator `{spec.name}` raised {type(error).__name__}: {error}"


def _records(result: Any) -> Any:
    """A returned list with its Structs as dicts; a lone Struct as a dict."""
    if isinstance(result, list):
        return [as_record(r) for r in result]
    return as_record(result)


def _emit_result(spec: Spec, result: Any, record: dict, offset: int | None, out: Output) -> None:
    if result is None:
        return
    if not isinstance(result, dict):  # the common case, a dict, is a record as it is
        result = _records(result)
    if isinstance(result, dict):
        out.emit(result, offset)
    elif isinstance(result, list) and all(isinstance(r, dict) for r in result):
        for item in result:
            out.emit(item, offset)
    else:
        out.error(
            record,
            offset,
            f"plugin `{spec.plugin}` operator `{spec.name}` returned "
            f"{type(result).__name__}, not a record, a list or None",
        )


class RecordFunction(StatelessOperator):
    def __init__(self, spec: Spec, kwargs: dict[str, Any]) -> None:
        self.spec, self.fn, self.kwargs = spec, spec.obj, kwargs

    def process(self, batch: Batch, port: int, out: Output) -> None:
        fn, kwargs, spec = self.fn, self.kwargs, self.spec
        for record, offset in zip(batch.records, batch.offsets):
            try:
                result = fn(record, **kwargs)
            except Exception as e:
                out.error(record, offset, _raised(spec, e))
                continue
            _emit_result(spec, result, record, offset, out)


class AsyncRecordFunction(RecordFunction):
    """Awaits the function for up to `concurrency` records of a batch at once; the results
    keep the order of the records."""

    def __init__(self, spec: Spec, kwargs: dict[str, Any], concurrency: int) -> None:
        super().__init__(spec, kwargs)
        self.concurrency = concurrency

    async def process(self, batch: Batch, port: int, out: Output) -> None:  # type: ignore[override]
        results: list[Any] = [None] * len(batch.records)
        failures: dict[int, BaseException] = {}
        limiter = anyio.CapacityLimiter(self.concurrency)

        async def one(index: int, record: dict) -> None:
            async with limiter:
                try:
                    results[index] = await self.fn(record, **self.kwargs)
                except Exception as e:
                    failures[index] = e

        async with anyio.create_task_group() as tg:
            for index, record in enumerate(batch.records):
                tg.start_soon(one, index, record)
        for index, (record, offset) in enumerate(zip(batch.records, batch.offsets)):
            if index in failures:
                out.error(record, offset, _raised(self.spec, failures[index]))
            else:
                _emit_result(self.spec, results[index], record, offset, out)


def _emit_batch_result(spec: Spec, result: Any, batch: Batch, out: Output) -> None:
    """What a batch function or class returned: a list of records (or None for none). Anything
    else sends the batch's records to the error sink."""
    if result is None:
        return
    result = _records(result)
    if isinstance(result, list) and all(isinstance(r, dict) for r in result):
        for item in result:
            out.emit(item, None)
        return
    reason = (
        f"plugin `{spec.plugin}` operator `{spec.name}` returned "
        f"{type(result).__name__}, not a list of records"
    )
    for record, offset in zip(batch.records, batch.offsets):
        out.error(record, offset, reason)


def _call_on_time(spec: Spec, handler: Any, *args: Any) -> Any:
    """A class's `on_watermark`/`on_end`: a failure there belongs to no record, so it stops
    the run with the plugin named."""
    try:
        return handler(*args)
    except Exception as e:
        raise PluginFailure(
            f"plugin `{spec.plugin}` operator `{spec.name}` raised "
            f"{type(e).__name__} in `{handler.__name__}`: {e}"
        ) from e


class PluginFailure(PipelineError):
    """Plugin code failed outside any one record."""


class BatchFunction(StatelessOperator):
    def __init__(self, spec: Spec, kwargs: dict[str, Any]) -> None:
        self.spec, self.fn, self.kwargs = spec, spec.obj, kwargs

    def process(self, batch: Batch, port: int, out: Output) -> None:
        try:
            result = self.fn(list(batch.records), **self.kwargs)
        except Exception as e:
            for record, offset in zip(batch.records, batch.offsets):
                out.error(record, offset, _raised(self.spec, e))
            return
        _emit_batch_result(self.spec, result, batch, out)


class StatefulClass(StatelessOperator):
    """A plugin class: `process(batch)`, and optionally `on_watermark(ts_ms)`, `on_end()`
    (without it, the end of the input is `on_watermark` at the end of time), `snapshot()`,
    `restore(state)`."""

    def __init__(self, spec: Spec, kwargs: dict[str, Any]) -> None:
        self.spec = spec
        self.instance = spec.obj(**kwargs)

    def process(self, batch: Batch, port: int, out: Output) -> None:
        try:
            result = self.instance.process(list(batch.records))
        except Exception as e:
            for record, offset in zip(batch.records, batch.offsets):
                out.error(record, offset, _raised(self.spec, e))
            return
        _emit_batch_result(self.spec, result, batch, out)

    def on_watermark(self, ts_ms: int, out: Output) -> None:
        handler = getattr(self.instance, "on_watermark", None)
        if handler is not None:
            self._emit(_call_on_time(self.spec, handler, ts_ms), out)

    def on_end(self, out: Output) -> None:
        handler = getattr(self.instance, "on_end", None)
        if handler is not None:
            self._emit(_call_on_time(self.spec, handler), out)
        else:
            self.on_watermark(END_OF_TIME, out)

    def _emit(self, result: Any, out: Output) -> None:
        if result is None:
            return
        result = _records(result)
        if not (isinstance(result, list) and all(isinstance(r, dict) for r in result)):
            raise PluginFailure(
                f"plugin `{self.spec.plugin}` operator `{self.spec.name}` "
                f"returned {type(result).__name__}, not a list of records"
            )
        for item in result:
            out.emit(item, None)

    def snapshot(self) -> Any:
        snapshot = getattr(self.instance, "snapshot", None)
        return None if snapshot is None else snapshot()

    def restore(self, state: Any) -> None:
        restore = getattr(self.instance, "restore", None)
        if restore is not None:
            restore(state)


def plugin_operator(spec: Spec, kwargs: dict[str, Any], concurrency: int | None) -> Any:
    obj = spec.obj
    if isinstance(obj, type):
        return StatefulClass(spec, kwargs)
    if inspect.iscoroutinefunction(obj):
        return AsyncRecordFunction(spec, kwargs, concurrency or spec.concurrency or 16)
    if spec.batch:
        return BatchFunction(spec, kwargs)
    return RecordFunction(spec, kwargs)
