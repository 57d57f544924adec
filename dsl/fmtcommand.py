"""`rillet fmt FILE... [--check]`: files rewritten in the layout `fmt.py` makes.

Every file is looked at, even after one that does not parse, so one run names them all.
Exit codes: 0 nothing (more) to do, 1 with `--check` when a file would change, 2 when a file
cannot be read or does not parse (its diagnostics are printed as `rillet check` prints them).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .diagnostic import SourceText, render_text
from .fmt import FormatError, MeaningChanged, format_text
from .invocation import EXIT_FAILED, EXIT_OK, EXIT_USAGE


def cmd_fmt(args: argparse.Namespace) -> int:
    changed: list[str] = []
    broken = 0
    for path in args.files:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            print(f"rillet: error: cannot read {path}: {reason}", file=sys.stderr)
            broken += 1
            continue
        try:
            formatted = format_text(text)
        except FormatError as e:
            sys.stderr.write(render_text(e.diagnostics, SourceText(path, text)))
            broken += 1
            continue
        except MeaningChanged as e:
            print(f"rillet: error: {path}: {e}", file=sys.stderr)
            broken += 1
            continue
        if formatted != text:
            changed.append(path)
            if not args.check:
                Path(path).write_text(formatted, encoding="utf-8", newline="")
            print(f"{'would reformat' if args.check else 'reformatted'}: {path}")
    _summary(len(args.files), len(changed), broken, args.check)
    if broken:
        return EXIT_USAGE
    return EXIT_FAILED if args.check and changed else EXIT_OK


def _summary(files: int, changed: int, broken: int, check: bool) -> None:
    unchanged = files - changed - broken
    done = "would be reformatted" if check else "reformatted"
    parts = [f"{changed} {_files(changed)} {done}", f"{unchanged} already formatted"]
    if broken:
        parts.append(f"{broken} not formatted (errors above)")
    print(f"rillet fmt: {', '.join(parts)}", file=sys.stderr)


def _files(count: int) -> str:
    return "file" if count == 1 else "files"
