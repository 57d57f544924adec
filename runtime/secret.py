"""Masking the values a pipeline read through `env("NAME")` out of everything rillet shows.

The checker records each such value with its variable's name (`Plan.secrets`); the connectors
still get the real value. Text meant for people — diagnostics, `explain`, `graph`, log lines,
error messages — goes through `Secrets.mask`, which writes `env("NAME")` where the value was,
so a reader sees where it came from and never what it is. A value is also looked for in the
forms a message may quote it in: JSON-escaped, as a Python `repr`, percent-encoded (in a URL).
Records are data and are not masked: a sink writes what the pipeline computed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import IO, Any
from urllib.parse import quote


class Secrets:
    """The secret values of one pipeline (value → the variable it was read from)."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        shown: dict[str, str] = {}
        for value, name in secrets.items():
            if not value:
                continue
            replacement = f'env("{name}")'
            # quoted forms first: a literal that is the whole secret reads `env("NAME")`
            forms = (
                json.dumps(value, ensure_ascii=False),
                json.dumps(value),
                repr(value),
                value,
                json.dumps(value)[1:-1],
                repr(value)[1:-1],
                quote(value, safe=""),
                quote(value),
            )
            for form in forms:
                shown.setdefault(form, replacement)
        self._shown = shown
        # one pass, longest first, so a replacement is never masked again
        self._pattern = (
            re.compile("|".join(re.escape(form) for form in sorted(shown, key=len, reverse=True)))
            if shown
            else None
        )

    def __bool__(self) -> bool:
        return self._pattern is not None

    def mask(self, text: str) -> str:
        """`text` with every secret written as `env("NAME")`."""
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: self._shown[m.group(0)], text)


class MaskedStream:
    """A text stream (standard error) that masks what is written through it; everything else
    (`isatty`, `fileno`, `buffer`...) is the wrapped stream's."""

    def __init__(self, stream: IO[str], secrets: Secrets) -> None:
        self._stream = stream
        self._secrets = secrets

    def write(self, text: str) -> int:
        self._stream.write(self._secrets.mask(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


__all__ = ["MaskedStream", "Secrets"]
