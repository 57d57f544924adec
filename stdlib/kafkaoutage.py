"""A Kafka broker that cannot be reached, as the `kafka` source (`kafka.py`) and sink
(`kafkasink.py`) meet it. librdkafka reconnects and sends again by itself; what it cannot do is
say so once, or give up: here a broker that does not answer at start is one line naming it; one
that goes away mid-run is a warning when it goes and another when it is back, and a run stops
with one line once it has been away for `retry_timeout`."""

from __future__ import annotations

import logging
from typing import Any

from rillet.runtime.plugin import Clock, ConnectorError

from .retry import Backoff

log = logging.getLogger(__name__)

HINT = "is the broker running and reachable?"


def reason(error: Any) -> str:
    """librdkafka's words for a `KafkaError` or a `KafkaException`, without the wrapping."""
    held = getattr(error, "args", ())  # a KafkaException holds its KafkaError
    if held and hasattr(held[0], "str"):
        error = held[0]
    return str(error.str() if hasattr(error, "str") else error).rstrip(".")


class Outage:
    """The broker at `brokers` as one connector sees it: reachable, or away since the first
    failure it met, retried with backoff (`due`, `failed`) until `retry_timeout_s` is up."""

    def __init__(self, who: str, brokers: str, clock: Clock, retry_timeout_s: float) -> None:
        self.who, self.brokers, self.clock = who, brokers, clock
        self.retry_timeout_s = retry_timeout_s
        self.backoff: Backoff | None = None
        self.last = ""  # the last failure, for the message that gives up
        self.try_at = 0.0

    def unreachable(self, error: Any) -> ConnectorError:
        """The broker did not answer at start."""
        return ConnectorError(
            f"{self.who}: cannot connect to kafka at {self.brokers}: {reason(error)} ({HINT})"
        )

    @property
    def away(self) -> bool:
        return self.backoff is not None

    def lost(self, why: str) -> None:
        """The client reported the broker unreachable: warn the first time, count from it."""
        self.last = why
        if self.backoff is None:
            log.warning(
                "%s: lost kafka at %s (%s); retrying for up to %gs",
                self.who,
                self.brokers,
                why,
                self.retry_timeout_s,
            )
            self.backoff = Backoff(self.clock, self.retry_timeout_s)
            self.backoff.start()
            self.try_at = self.clock.monotonic_s()

    def back(self) -> None:
        """The broker answered again."""
        if self.backoff is not None:
            self.backoff = None
            log.warning("%s: kafka at %s is back", self.who, self.brokers)

    def due(self) -> bool:
        """Whether to try the broker now (away, and the pause after the last try is over)."""
        return self.backoff is not None and self.clock.monotonic_s() >= self.try_at

    def failed(self, why: str) -> None:
        """A try failed: the next one after a growing pause, or a ConnectorError when the time
        is up."""
        self.last = why
        assert self.backoff is not None
        delay = self.backoff.next_delay()
        if delay is None:
            raise self.gone()
        self.try_at = self.clock.monotonic_s() + delay

    def gone(self) -> ConnectorError:
        last = f"{self.last}; " if self.last else ""
        return ConnectorError(
            f"{self.who}: kafka at {self.brokers} went away and did not come back within "
            f"{self.retry_timeout_s:g}s ({last}{HINT})"
        )
