"""How often a source polls an input that cannot wake it (a followed file): often right after
data came, so a record waits little before its batch is handed on, and less often the longer
the input stays quiet, so an idle source costs next to nothing. Sources hand on what they have
as soon as nothing more is ready (adaptive micro-batches): this interval, not `batch_timeout`,
is then what a record waits at light load."""

from __future__ import annotations


class PollInterval:
    """The wait before the next poll: `first_s` after data came, doubling on each empty poll
    up to `last_s`."""

    def __init__(self, first_s: float, last_s: float) -> None:
        self.first_s = first_s
        self.last_s = max(first_s, last_s)
        self.wait_s = first_s

    def next_s(self) -> float:
        """The wait before the next poll (after one that found nothing)."""
        wait_s = self.wait_s
        self.wait_s = min(wait_s * 2, self.last_s)
        return wait_s

    def reset(self) -> None:
        """Data came: poll soon again."""
        self.wait_s = self.first_s
