"""`rillet lineage`: for each checkpoint of a run, the pipeline it ran, the input it read and
the output it wrote; and for one position of a sink's output, the input it came from.

A checkpoint's output range runs from each sink's committed point at the checkpoint before to
its point at this one; its input range from each source's position at the checkpoint before
its `origin` (the first checkpoint whose input still reached its output through the
operators' state, `runtime/lineage.py`) to its position at this one. A checkpoint missing from
the history (a crash between saving it and logging it) widens the ranges to the one before.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from rillet.runtime.checkpoint import Manifest


@dataclass(frozen=True)
class Span:
    """One connector's range in a checkpoint: from (None: its beginning) to."""

    start: Any
    end: Any


@dataclass(frozen=True)
class Output:
    """What one sink wrote in a checkpoint, and the input it came from."""

    written: Span
    first: int
    """The first checkpoint whose input is in `inputs`."""
    inputs: dict[str, Span]


@dataclass(frozen=True)
class Lineage:
    """One checkpoint: each sink's output and the input it came from."""

    checkpoint: Manifest
    outputs: dict[str, Output]


def lineages(history: list[Manifest]) -> list[Lineage]:
    """Each saved checkpoint of `history` (oldest first) with its ranges."""
    found = []
    for i, manifest in enumerate(history):
        before = history[i - 1] if i else None
        outputs = {}
        for name, point in manifest.sinks.items():
            origin = manifest.origins.get(name, 1)  # before lineage was kept: from the start
            start = _last_before(history[:i], origin)
            inputs = {n: Span(_at(start, "sources", n), p) for n, p in manifest.sources.items()}
            first = 1 if start is None else start.checkpoint_id + 1
            outputs[name] = Output(Span(_at(before, "sinks", name), point), first, inputs)
        found.append(Lineage(manifest, outputs))
    return found


def _last_before(history: list[Manifest], checkpoint_id: int) -> Manifest | None:
    """The newest checkpoint before `checkpoint_id`: where its input range begins."""
    return next((m for m in reversed(history) if m.checkpoint_id < checkpoint_id), None)


def _at(manifest: Manifest | None, parts: str, name: str) -> Any:
    return None if manifest is None else getattr(manifest, parts).get(name)


class NotFound(Exception):
    """No checkpoint holds the position asked about."""


@dataclass(frozen=True)
class At:
    """A position in a sink's output: a byte offset or a line (1 is the first) of a `file`
    sink, or a version of a `delta` table."""

    byte: int | None = None
    line: int | None = None
    version: int | None = None


def position(text: str) -> At:
    """`1234` (a byte offset), `line:12` or `version:3`; a ValueError says what is accepted."""
    if match := re.fullmatch(r"(line|version):(\d+)", text):
        return At(**{match[1]: int(match[2])})
    if text.isdigit():
        return At(byte=int(text))
    raise ValueError(
        f"--at {text}: give a byte offset (1234) or a line (line:12) of a file sink, or a "
        "table version (version:3) of a delta sink"
    )


def find(found: list[Lineage], sink: str, at: At, base: Path) -> tuple[Lineage, dict[str, int]]:
    """The checkpoint that wrote `at` in sink `sink`, with where that is (byte and line, or
    table version); paths relative to `base`, the pipeline's folder."""
    spans = [(lin, lin.outputs[sink].written) for lin in found if sink in lin.outputs]
    if not spans:
        raise NotFound(f"no checkpoint records sink `{sink}`")
    if at.version is not None:
        return _find_version(spans, sink, at.version, base)
    path = base / _length(spans[-1][1].end)[0]
    byte = at.byte if at.byte is not None else _byte_of_line(path, at.line or 1)
    for lin, span in spans:
        if _length(span.start)[1] <= byte < _length(span.end)[1]:
            return lin, {"byte": byte, "line": _line_of_byte(path, byte)}
    raise NotFound(f"byte {byte} of {path} was not written by a saved checkpoint")


def _find_version(
    spans: list[tuple[Lineage, Span]], sink: str, version: int, base: Path
) -> tuple[Lineage, dict[str, int]]:
    """A Delta table's version names the sink's checkpoint (its epoch) in the commit's
    metadata, which the table's log (`_delta_log/<version>.json`, JSON lines) holds: read
    there, so tracing a table needs no Delta library."""
    last = spans[-1][1].end
    if not isinstance(last, dict) or "epoch" not in last:
        raise NotFound("--at version:N reads `delta` sinks")
    commit = base / last["path"] / "_delta_log" / f"{version:020d}.json"
    try:
        lines = commit.read_text().splitlines()
    except OSError:
        raise NotFound(f"{base / last['path']} has no version {version}") from None
    info: dict[str, Any] = next(
        (json.loads(x)["commitInfo"] for x in lines if '"commitInfo"' in x), {}
    )
    if info.get("rillet.sink") != sink or "rillet.checkpoint" not in info:
        raise NotFound(f"version {version} of {last['path']} was not written by sink `{sink}`")
    epoch = int(info["rillet.checkpoint"])
    for lin, span in spans:
        if (span.start is None or span.start["epoch"] < epoch) and epoch <= span.end["epoch"]:
            return lin, {"version": version}
    raise NotFound(f"version {version} of {last['path']} was not written by a saved checkpoint")


def _length(committed: Any) -> tuple[str, int]:
    """A file sink's committed point: its path and length."""
    if committed is None:
        return "", 0
    if not isinstance(committed, dict) or "length" not in committed:
        raise NotFound("--at reads positions of `file` sinks")
    return committed["path"], committed["length"]


def _byte_of_line(path: Path, line: int) -> int:
    with path.open("rb") as f:
        for number, text in enumerate(f, 1):
            if number == line:
                return f.tell() - len(text)
    raise NotFound(f"{path} has fewer than {line} lines")


def _line_of_byte(path: Path, byte: int) -> int:
    with path.open("rb") as f:
        return f.read(byte).count(b"\n") + 1


def render(lin: Lineage, only: str | None = None) -> list[str]:
    """The lines `rillet lineage` prints for one checkpoint (for one sink of it: `only`)."""
    m = lin.checkpoint
    moment = datetime.fromtimestamp(m.time_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
    lines = [f"checkpoint {m.checkpoint_id}  {moment} UTC{'  finished' if m.finished else ''}"]
    lines.append(f"  pipeline {pipeline_version(m)}")
    for name, out in lin.outputs.items():
        if only not in (None, name):
            continue
        came = f"checkpoint {out.first}"
        if out.first != m.checkpoint_id:
            came = f"checkpoints {out.first}-{m.checkpoint_id}"
        lines.append(f"  {name}: {_range(out.written)}")
        lines.append(f"    from input read in {came}:")
        lines += [f"      {source}: {_range(span)}" for source, span in out.inputs.items()]
    return lines


def pipeline_version(m: Manifest) -> str:
    """What the checkpoint was taken with: the hashes of the file and params, the plugins."""
    if m.pipeline is None:
        return "(not recorded)"
    p = m.pipeline
    parts = [f"file {p.file}"]
    parts += [f"-p {name} {digest}" for name, digest in sorted(p.params.items())]
    parts += [f"{name} {version}" for name, version in p.plugins.items()]
    return ", ".join(parts)


def _range(span: Span) -> str:
    """A file's byte range when both ends are file positions; the positions as JSON else."""
    if _is_file_sink(span.end) and (span.start is None or _is_file_sink(span.start)):
        start = 0 if span.start is None else span.start["length"]
        return f"{span.end['path']} bytes {start}..{span.end['length']}"
    if _is_file_source(span.end) and (span.start is None or _is_file_source(span.start)):
        return _file_source_range(span.start, span.end)
    start = "start" if span.start is None else msgspec.json.encode(span.start).decode()
    return f"{start} .. {msgspec.json.encode(span.end).decode()}"


def _is_file_sink(point: Any) -> bool:
    return isinstance(point, dict) and {"path", "length"} <= point.keys()


def _is_file_source(point: Any) -> bool:
    return isinstance(point, dict) and {"done", "current"} <= point.keys()


def _file_source_range(start: dict | None, end: dict) -> str:
    """The bytes of each file a `file` source read between two of its positions."""
    done_before = set(start["done"]) if start else set()
    begin_file, begin = start["current"] if start and start["current"] else (None, 0)
    parts = [
        f"{path} bytes {begin if path == begin_file else 0}..end"
        for path in end["done"]
        if path not in done_before
    ]
    if end["current"]:
        path, offset = end["current"]
        parts.append(f"{path} bytes {begin if path == begin_file else 0}..{offset}")
    return ", ".join(parts) or "nothing"


def as_json(lin: Lineage, only: str | None = None) -> dict[str, Any]:
    """One checkpoint's lineage for `--format json`."""
    m = lin.checkpoint

    def span(s: Span) -> dict[str, Any]:
        return {"from": s.start, "to": s.end}

    return {
        "checkpoint": m.checkpoint_id,
        "time_ms": m.time_ms,
        "finished": m.finished,
        "pipeline": m.pipeline,
        "outputs": {
            name: {
                "written": span(out.written),
                "input_from_checkpoint": out.first,
                "inputs": {source: span(s) for source, s in out.inputs.items()},
            }
            for name, out in lin.outputs.items()
            if only in (None, name)
        },
    }
