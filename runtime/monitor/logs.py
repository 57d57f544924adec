"""The run's log lines — warnings, alerts, checkpoints, the periodic plain view — on standard
error, as text (`rillet: warning: ...`, the CLI's own voice) or as JSON lines
(`{"ts", "level", "message", "fields"}`) for log collectors.

A record's structured data travels as `extra={"fields": {...}}`; one marked
`extra={"always": True}` is shown even with `-q` (the address `--http` serves: without it a
`--http :0` run could not be reached). The handler looks up
`sys.stderr` at each line, so lines logged while the terminal view is up go through its console
and print above the view instead of through it.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import msgspec

LOGGER = "rillet"


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        level = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        return f"rillet: {level}{record.getMessage()}"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        line = {
            "ts": ts.replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "message": record.getMessage(),
            "fields": getattr(record, "fields", {}),
        }
        return msgspec.json.encode(line, enc_hook=str).decode()


class StderrHandler(logging.Handler):
    """Writes to whatever `sys.stderr` is when a line is logged."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - logging's contract: report, never raise
            self.handleError(record)


def _quiet(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING or getattr(record, "always", False)


def configure(fmt: str, quiet: bool) -> None:
    """Send rillet's log records to standard error in `fmt` (`text` or `json`): from INFO up,
    or only warnings, errors and records marked `always` when `quiet`. Calling it again
    replaces the earlier setup."""
    logger = logging.getLogger(LOGGER)
    for handler in [h for h in logger.handlers if isinstance(h, StderrHandler)]:
        logger.removeHandler(handler)
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    if quiet:
        handler.addFilter(_quiet)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
