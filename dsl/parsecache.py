"""Pipeline files parsed before, kept between runs as Python keeps compiled modules: a rerun of
an unchanged file reads its syntax tree back (msgspec, well under a millisecond) instead of
importing lark and lexing the file again (about a fifth of a short run's start-up).

An entry is named by a digest of the file's text and of the code that turns text into a tree
(the grammar and the modules that build the tree), so an edited file or another rillet parses
afresh. Only files that parsed without an error are kept: a diagnostic is always made anew.
Entries live beside the grammar's tables (`_grammarcache.py`); the oldest go once there are
more than `KEEP`. A cache that cannot be read or written is passed by, never an error.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import msgspec

from rillet.runtime.usercache import cache_folder, keep

from . import ast
from .comment import Comment
from .diagnostic import Diagnostic

KEEP = 200
_TREE_CODE = ("grammar.lark", "ast.py", "parser.py", "exprtree.py", "treebuild.py", "comment.py")

Parsed = tuple[ast.Program, tuple[Comment, ...]]
_decoder = msgspec.msgpack.Decoder(Parsed)


def parse_cached(text: str) -> tuple[ast.Program | None, list[Diagnostic], tuple[Comment, ...]]:
    """As `parser.parse_with_comments`, from the cache when `text` was parsed before."""
    entry = _entry(text)
    if entry is not None:
        try:
            kept, kept_comments = _decoder.decode(entry.read_bytes())
        except (OSError, msgspec.DecodeError):
            pass
        else:
            return kept, [], kept_comments
    from .parser import parse_with_comments  # lark is imported only when something is parsed

    program, diagnostics, comments = parse_with_comments(text)
    if entry is not None and program is not None and not diagnostics:
        if keep(entry, msgspec.msgpack.encode((program, comments))):
            _forget_oldest(entry.parent)
    return program, diagnostics, comments


def _entry(text: str) -> Path | None:
    try:
        folder = cache_folder() / "parsed"
    except RuntimeError:  # no home folder to be found
        return None
    digest = hashlib.sha256(_code_digest() + text.encode("utf-8", "surrogatepass"))
    return folder / f"{digest.hexdigest()[:32]}.msgpack"


@cache
def _code_digest() -> bytes:
    """Read beside this module, as installed (`importlib.resources` would cost a millisecond
    and a half of every start to import)."""
    here = Path(__file__).parent
    return hashlib.sha256(b"".join((here / n).read_bytes() for n in _TREE_CODE)).digest()


def _forget_oldest(folder: Path) -> None:
    try:
        entries = list(folder.glob("*.msgpack"))
        if len(entries) <= KEEP:
            return
        entries.sort(key=lambda p: p.stat().st_mtime)
        for stale in entries[: len(entries) - KEEP // 2]:
            stale.unlink(missing_ok=True)
    except OSError:  # another run forgetting them at the same time
        pass


__all__ = ["parse_cached"]
