"""Which checkpoint a run of a finished pipeline goes on from, and whether it has anything to do.

A bounded run ends by firing what its end of input fires: every open window, a global aggregate.
Saved after that, its state says "the input has ended": records appended later would all be
late. So the run also keeps the checkpoint it took when every input had reached its end, before
anything fired (`Manifest.drained`, taken by `run.py`). A rerun over input that has grown goes on
from that one: its sinks are cut back to before the firing, the operators get their open windows
back, and the new records count as one uninterrupted run over the whole input would count them.
A rerun whose inputs have not grown does nothing at all, and saves no checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from .capability import KnowsUnread, Reopenable
from .checkpoint import CheckpointStore, Manifest

log = logging.getLogger(__name__)


async def any_unread(sources: Iterable[Any]) -> bool:
    """Whether any source, at its restored position, has input to read. A source that
    `KnowsUnread` tells; one that does not (stdin, the shuffle between workers) may always have."""
    for source in sources:
        if not isinstance(source, KnowsUnread) or await source.unread():
            return True
    return False


def continued(
    finished: Manifest, store: CheckpointStore | None, sources: dict[str, Any]
) -> Manifest:
    """The checkpoint a rerun over grown input resumes from: the finished run's drain
    checkpoint when it is still kept, else the finished one itself (as runs saved before drain
    checkpoints existed resume). Sources that remember their producers' ends forget them:
    every producer runs again and ends again (`reopen`)."""
    if finished.drained is None or store is None:
        return finished
    drained = next((m for m in store.all() if m.checkpoint_id == finished.drained), None)
    if drained is None:
        log.warning(
            "the checkpoint taken at the end of the last run's input (%d) is gone: "
            "records added since may count as late",
            finished.drained,
        )
        return finished
    for source in sources.values():
        if isinstance(source, Reopenable):
            source.reopen()
    return drained
