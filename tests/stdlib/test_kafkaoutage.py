"""How the `kafka` connectors live through a broker that went away (stdlib/kafkaoutage.py), on a
manual clock: one warning when it goes and one when it is back however many failures come in
between, tries at growing pauses, and one error naming the broker once `retry_timeout` is up."""

from __future__ import annotations

import logging

import pytest

from rillet.runtime.clock import ManualClock
from rillet.runtime.connector import ConnectorError
from rillet.stdlib.kafkaoutage import Outage


def test_one_warning_each_way_and_tries_at_growing_pauses(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock()
    outage = Outage("source `s`", "h:1", clock, 10.0)
    assert not outage.due()
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            outage.lost("1/1 brokers are down")
        assert outage.due(), "the first try at once"
        outage.failed("Local: Timed out")
        assert not outage.due()
        clock.advance(0.1)
        assert outage.due()
        outage.failed("Local: Timed out")
        clock.advance(0.1)
        assert not outage.due(), "the pause doubled"
        outage.back()
        outage.back()
    assert [r.getMessage() for r in caplog.records] == [
        "source `s`: lost kafka at h:1 (1/1 brokers are down); retrying for up to 10s",
        "source `s`: kafka at h:1 is back",
    ]
    assert not outage.away


def test_a_broker_away_for_the_whole_timeout_is_one_error_naming_it() -> None:
    clock = ManualClock()
    outage = Outage("sink `o`", "h:1", clock, 2.0)
    outage.lost("1/1 brokers are down")
    with pytest.raises(ConnectorError) as raised:
        while True:
            outage.failed("Connection refused")
            clock.advance(outage.try_at - clock.monotonic_s())
    assert str(raised.value) == (
        "sink `o`: kafka at h:1 went away and did not come back within 2s "
        "(Connection refused; is the broker running and reachable?)"
    )
    assert clock.monotonic_s() == pytest.approx(2.0)
