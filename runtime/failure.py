"""Failures a pipeline's author must see: what stops a run, with a message meant for them.

Anything else that escapes a run is a bug in rillet and keeps its traceback.
"""

from __future__ import annotations

from .connector import ConnectorError


class PipelineError(Exception):
    """The run cannot go on; the message is meant for the pipeline's author."""


class RecordError(PipelineError):
    """A bad record with no error sink to take it."""


class StateMismatch(PipelineError):
    """A checkpoint's state was saved under a different pipeline."""


class CheckpointNotSaved(PipelineError):
    """Writing a checkpoint failed (a full disk, a lost store): the one before stays in force."""


def first_failure(error: BaseException) -> PipelineError | ConnectorError | None:
    """The failure to show the pipeline's author, found inside a task group's exception group
    (None when `error` is a bug rather than a failure of the pipeline)."""
    if isinstance(error, PipelineError | ConnectorError):
        return error
    for inner in getattr(error, "exceptions", ()):
        found = first_failure(inner)
        if found is not None:
            return found
    return None
