"""The one way generated code is written and turned into functions: stages, aggregates and the
pane loop all emit lines through a `Writer` and compile them with `define`.

`define` registers the source with `linecache` under a name of its own, so a traceback through
generated code shows the generated line rather than nothing. The writer also remembers where
each operator's code starts (`mark`), so `failed_item` can name the operator a failing line
belongs to from the traceback alone: the hot loop keeps no bookkeeping for it.
"""

from __future__ import annotations

import hashlib
import linecache
from bisect import bisect_right
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

INDENT = "    "


class Writer:
    """Lines of generated Python, each indented to the writer's current `depth`."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0
        self.marks: list[int] = []
        """The line (1-based) where each marked item's code starts, rising."""

    def line(self, *texts: str) -> None:
        """Write `texts` at the current depth (a text's own indentation is kept)."""
        self.lines += [INDENT * self.depth + text for text in texts]

    @contextmanager
    def block(self, header: str) -> Iterator[None]:
        """Write `header` (a `def`, `for`, `try`...) and indent what is written inside."""
        self.line(header)
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    def mark(self) -> None:
        """The next item's code starts at the next line written."""
        self.marks.append(len(self.lines) + 1)

    @property
    def source(self) -> str:
        return "\n".join(self.lines) + "\n"


def define(
    code: Writer, label: str, namespace: dict[str, Any], *names: str
) -> tuple[Callable[..., Any], ...]:
    """Compile `code` and return the functions it defines called `names`; `namespace` (copied)
    becomes their globals. The source is named by its label and hash, so the same code
    compiled twice shares one `linecache` entry."""
    source = code.source
    digest = hashlib.sha1(source.encode()).hexdigest()[:12]
    filename = f"<rillet {label} {digest}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    scope = dict(namespace)
    exec(compile(source, filename, "exec"), scope)
    return tuple(scope[name] for name in names)


def failed_item(marks: list[int]) -> Callable[[BaseException], int]:
    """The index of the marked item whose code raised `error`, caught in the generated function
    itself: the first traceback entry is that function's frame, at the failing line."""

    def failed(error: BaseException) -> int:
        tb = error.__traceback__
        assert tb is not None
        return max(bisect_right(marks, tb.tb_lineno) - 1, 0)

    return failed


__all__ = ["Writer", "define", "failed_item"]
