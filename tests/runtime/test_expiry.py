"""The time-ordered index behind `dedupe`'s forgetting (runtime/expiry.py), held to a plain list:
whatever the order times come in and wherever the horizon moves, each take returns exactly the
entries older than the horizon not taken before, and the lists stay within twice what is live."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from rillet.runtime.expiry import ExpiryQueue

STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 60), st.sampled_from("abc")),
        st.tuples(st.just("take"), st.integers(-5, 70), st.none()),
    ),
    max_size=120,
)


@settings(max_examples=300, deadline=None)
@given(steps=STEPS, compact_after=st.integers(1, 8))
def test_takes_exactly_the_entries_older_than_the_horizon(steps: list, compact_after: int) -> None:
    queue, waiting = ExpiryQueue(compact_after), []
    for what, ts, key in steps:
        if what == "add":
            queue.add(ts, key)
            waiting.append((ts, key))
        else:
            expected = Counter(k for t, k in waiting if t < ts)
            waiting = [(t, k) for t, k in waiting if t >= ts]
            assert Counter(queue.take_before(ts)) == expected
            live = len(queue.times) - queue.start
            assert len(queue.times) <= max(2 * live, compact_after + live)
    assert Counter(queue.take_before(10**9)) == Counter(k for _, k in waiting)
