"""Every rillet function on Flink: a SQL built-in where one means exactly the same, else a
Python scalar UDF that calls rillet's own implementation (the standard library's, or a plugin's
from `use "plugins/x.py"` or an installed package).

A UDF is registered per implementation and result type (Flink fixes a UDF's result type when
it is registered; `round` of an int with digits stays an int, of a float a float), found
through the plan's registry (`runtime.pluginload.registry_of`). `PyUdf` says where the job's
Python workers find the implementation: an importable module, or a plugin file whose source
the job carries (`jobfile.py`). Read next: `sqlexpr.py`.
"""

from __future__ import annotations

import hashlib
import inspect
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rillet.runtime.plan import Lit
from rillet.runtime.recordtype import declared_fields
from rillet.runtime.registry import Registry
from rillet.runtime.spec import Spec

from .coltypes import BIGINT, BOOLEAN, DOUBLE, NUMBERS, STRING, SqlType
from .sqlexpr import Unmappable


def _time(ms: str) -> str:
    return f"TO_TIMESTAMP_LTZ({ms}, 3)"


BUILTINS: dict[str, Callable[[list[str]], str]] = {
    "lower": lambda a: f"LOWER({a[0]})",
    "upper": lambda a: f"UPPER({a[0]})",
    "abs": lambda a: f"ABS({a[0]})",
    "floor": lambda a: f"CAST(FLOOR({a[0]}) AS BIGINT)",
    "ceil": lambda a: f"CAST(CEIL({a[0]}) AS BIGINT)",
    "coalesce": lambda a: f"COALESCE({a[0]}, {a[1]})",
    "starts_with": lambda a: f"STARTSWITH({a[0]}, {a[1]})",
    "ends_with": lambda a: f"ENDSWITH({a[0]}, {a[1]})",
    "replace": lambda a: f"REPLACE({a[0]}, {a[1]}, {a[2]})",
    "format_time": lambda a: f"DATE_FORMAT({_time(a[0])}, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''')",
    "date": lambda a: f"DATE_FORMAT({_time(a[0])}, 'yyyy-MM-dd')",
    "year": lambda a: f"CAST(EXTRACT(YEAR FROM {_time(a[0])}) AS BIGINT)",
    "month": lambda a: f"CAST(EXTRACT(MONTH FROM {_time(a[0])}) AS BIGINT)",
    "day": lambda a: f"CAST(EXTRACT(DAY FROM {_time(a[0])}) AS BIGINT)",
    "hour": lambda a: f"CAST(EXTRACT(HOUR FROM {_time(a[0])}) AS BIGINT)",
    "minute": lambda a: f"CAST(EXTRACT(MINUTE FROM {_time(a[0])}) AS BIGINT)",
}
"""Standard-library functions with a Flink SQL built-in of the same meaning on their arguments'
types (times are UTC: the job sets `table.local-time-zone`), each with exactly as many
arguments as listed here: `format_time` with a strftime format is a UDF (Java's patterns
differ)."""

BUILTIN_ARITY = {"format_time": 1, "coalesce": 2, "replace": 3, "starts_with": 2, "ends_with": 2}
STDLIB_MODULE = "rillet.stdlib.functions"
OPERATORS_MODULE = "rillet.flink.pyops"


@dataclass(frozen=True)
class PyUdf:
    """A Python scalar UDF of the job: `attr` of `module` (or of the plugin file `file`, its
    path relative to the pipeline's folder, whose source the job carries), returning `result`."""

    sql_name: str
    module: str
    attr: str
    result: str
    file: str | None = None
    source: str | None = field(default=None, repr=False)
    """The plugin file's text, which the job carries."""
    context: bool = False
    deterministic: bool = True


@dataclass(frozen=True)
class PyUdaf:
    """A Python aggregate function of the job: rillet's aggregate class `attr` of `module` (or
    of the plugin file `file`), built with `constants` and `options` (the call's constant
    arguments), fed the call's first arguments per record, returning `result`."""

    sql_name: str
    module: str
    attr: str
    result: str
    constants: tuple = ()
    options: tuple[tuple[str, Any], ...] = ()
    file: str | None = None
    source: str | None = field(default=None, repr=False)


def udf_name(attr: str, result: str) -> str:
    return f"rillet_{attr}_{re.sub(r'[^A-Za-z0-9]+', '_', result).strip('_')}"


def operator_udf(attr: str, result: SqlType, what: str) -> PyUdf:
    """One of rillet's operators as a UDF of `pyops.py`."""
    if result is None:
        raise Unmappable(f"{what} over operands whose types are not known here")
    return PyUdf(udf_name(attr, result), OPERATORS_MODULE, attr, result)


_PYTHON_TYPES = {str: STRING, int: BIGINT, float: DOUBLE, bool: BOOLEAN}


def annotation_type(annotation: Any) -> SqlType:
    """A Python return annotation as a Flink type: `str | None` is STRING, `list[int]`
    ARRAY<BIGINT>; anything else (`Any`, a record) has none."""
    if annotation in _PYTHON_TYPES:
        return _PYTHON_TYPES[annotation]
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return annotation_type(args[0])
    if origin is list and len(args) == 1:
        item = annotation_type(args[0])
        return None if item is None else f"ARRAY<{item}>"
    return None


class Functions:
    """The functions a plan can call, each as a built-in or a UDF, and their result types."""

    def __init__(self, registry: Registry, base_dir: str) -> None:
        self.registry = registry
        self.base_dir = Path(base_dir).resolve()

    def spec(self, name: str) -> Spec:
        spec = self.registry.get("function", name)
        if spec is None:
            raise Unmappable(f"the function `{name}` is not known here")
        return spec

    def result(self, name: str, args: list[SqlType]) -> SqlType:
        """A call's result type: the function's annotation, but for those whose type follows
        their arguments'."""
        if name == "abs" and args:
            return args[0]
        if name == "coalesce" and len(args) == 2:
            a, b = args
            return a if a == b or b is None else b if a is None else None
        if name == "round":
            return BIGINT if len(args) > 1 and args[0] == BIGINT else DOUBLE
        spec = self.registry.get("function", name) or self.registry.get("aggregate", name)
        return None if spec is None else annotation_type(spec.returns)

    def operator_fields(self, name: str) -> dict[str, SqlType]:
        """The Flink types of the fields a plugin operator declares by its return annotation
        (`rillet.runtime.recordtype`); none when it declares none."""
        spec = self.registry.get("operator", name)
        fields = None if spec is None else declared_fields(spec.returns)
        return {k: annotation_type(v) for k, v in (fields or {}).items()}

    def is_aggregate(self, name: str) -> bool:
        return self.registry.get("aggregate", name) is not None

    def is_builtin(self, name: str, args: list[SqlType]) -> bool:
        spec = self.registry.get("function", name)
        if name not in BUILTINS or spec is None or spec.plugin != "std":
            return False
        if len(args) != BUILTIN_ARITY.get(name, 1):
            return False
        return name != "abs" or args[0] in NUMBERS

    def builtin(self, name: str, args: list[str]) -> str:
        return BUILTINS[name](args)

    def udf(self, name: str, args: list[SqlType]) -> PyUdf:
        spec = self.spec(name)
        result = self.result(name, args)
        if result is None:
            raise Unmappable(
                f"`{name}` returns a value whose Flink type is not known here"
                " (a UDF needs one: annotate the function's return as str, int, float, bool"
                " or a list of them)"
            )
        fn = spec.obj
        module, attr = fn.__module__, fn.__name__
        file = self.plugin_file(fn)
        source = None if file is None else (self.base_dir / file).read_text()
        return PyUdf(
            udf_name(f"{spec.plugin}_{attr}", result),
            module,
            attr,
            result,
            file=file,
            source=source,
            context=spec.context,
            deterministic=not spec.context,
        )

    def aggregate(self, name: str, args: tuple, kwargs: tuple, result: SqlType) -> PyUdaf:
        """The aggregate `name` as a Python aggregate function, with the call's constant
        arguments (those after `add`'s) fixed in it: one per distinct set of them."""
        spec = self.registry.get("aggregate", name)
        if spec is None:
            raise Unmappable(f"the aggregate `{name}` is not known here")
        if result is None:
            raise Unmappable(
                f"`{name}` returns a value whose Flink type is not known here (annotate its"
                " `result` as str, int, float, bool or a list of them)"
            )
        cls = spec.obj
        values = len(inspect.signature(cls.add).parameters) - 1  # after `self`
        extra = args[values:] + tuple(v for _, v in kwargs)
        if not all(isinstance(e, Lit) for e in extra):
            raise Unmappable(f"`{name}` with an option that is not a constant")
        constants = tuple(e.value for e in args[values:])
        options = tuple((k, v.value) for k, v in kwargs)
        file = self.plugin_file(cls)
        source = None if file is None else (self.base_dir / file).read_text()
        fixed = repr((constants, options)).encode()
        suffix = f"_{hashlib.sha1(fixed).hexdigest()[:8]}" if constants or options else ""
        return PyUdaf(
            udf_name(f"agg_{spec.plugin}_{cls.__name__}{suffix}", result),
            cls.__module__,
            cls.__name__,
            result,
            constants,
            options,
            file,
            source,
        )

    def plugin_file(self, fn: Any) -> str | None:
        """The file of a plugin a pipeline `use`s by path (imported under a name no other
        process knows): its path relative to the pipeline's folder, for the job to carry."""
        if not fn.__module__.startswith("rillet_use_"):
            return None
        source = inspect.getsourcefile(fn)
        if source is None:
            raise Unmappable(f"the source of `{fn.__name__}` cannot be found to ship with the job")
        path = Path(source).resolve()
        return str(path.relative_to(self.base_dir) if path.is_relative_to(self.base_dir) else path)

    def positional(self, name: str, args: tuple, kwargs: tuple) -> tuple:
        """Keyword arguments in their parameters' places (a SQL call has no keywords): they
        must follow the positional ones without a gap."""
        if not kwargs:
            return args
        params = [p.name for p in self.spec(name).params]
        given = dict(kwargs)
        ordered = list(args)
        for param in params[len(args) :]:
            if param not in given:
                break
            ordered.append(given.pop(param))
        if given:
            raise Unmappable(f"`{name}` with keyword arguments that skip a parameter")
        return tuple(ordered)
