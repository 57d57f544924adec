"""Values that come from outside the pipeline file: `-p NAME=VALUE` text, and the environment
variables `env("NAME")` reads.

Both arrive as text and take the type of the value the file declares beside them (a param's
value, `env`'s default). What `env` reads is kept out of sight: the `Environment` records each
string it hands out as a secret, and the plan carries them so that every display masks them
(`rillet.runtime.secret`). Checking reads the variables from this object, never from
`os.environ`, so it stays a function of its inputs.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rillet.runtime.expr import INT_MAX

_MISSING = object()


@dataclass
class Environment:
    """The variables `env()` may read, and the secrets read from them so far (value → name).
    Neither is in its repr, which a failing test or a debugger may print."""

    variables: Mapping[str, str] = field(default_factory=dict, repr=False)
    secrets: dict[str, str] = field(default_factory=dict, repr=False)

    def read(self, name: str, default: Any = _MISSING) -> Any:
        """The variable as the type of `default` (a string without one); `KeyError` when it is
        not set and there is no default, `ValueError` (saying what was expected, never the
        value) when it does not convert."""
        text = self.variables.get(name)
        if text is None:
            if default is _MISSING:
                raise KeyError(name)
            return default
        value = text if default is _MISSING else parse_param_value(text, default)
        self._keep(value, name)
        return value

    def _keep(self, value: Any, name: str) -> None:
        """Every string in `value` is a secret: numbers and bools read through a typed default
        are settings, and masking `4` everywhere would make every message unreadable."""
        if isinstance(value, str):
            if value:
                self.secrets.setdefault(value, name)
        elif isinstance(value, list):
            for item in value:
                self._keep(item, name)
        elif isinstance(value, dict):
            for item in value.values():
                self._keep(item, name)


def parse_param_value(text: str, default: Any) -> Any:
    """A `-p name=value` string as the type of the param's declared value; `ValueError` says
    what was expected."""
    if any("\ud800" <= c <= "\udfff" for c in text):  # bytes of argv that are not UTF-8
        raise ValueError("the value is not valid UTF-8")
    if isinstance(default, bool):
        if text in ("true", "false"):
            return text == "true"
        raise ValueError("expected `true` or `false`")
    if isinstance(default, int):
        if not re.fullmatch(r"[+-]?[0-9]{1,19}", text.strip()):
            raise ValueError("expected a whole number like `300`")
        value = int(text)
        if not -INT_MAX - 1 <= value <= INT_MAX:
            raise ValueError(f"expected a whole number of at most {INT_MAX} (64 bits)")
        return value
    if isinstance(default, float):
        try:
            number = float(text)
        except ValueError:
            raise ValueError("expected a number like `2.5`") from None
        if not math.isfinite(number):
            raise ValueError("expected a finite number")
        return number
    if isinstance(default, list | dict):
        kind, example = ("list", "[1, 2]") if isinstance(default, list) else ("record", '{"a": 1}')
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):
            parsed = None
        if not isinstance(parsed, type(default)):
            raise ValueError(f"expected a {kind} in JSON, like `{example}`")
        return parsed
    return text
