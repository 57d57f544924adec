"""The job side of `dedupe` (DataStream API): pasted as text into the script `jobfile.py` writes
for a job with a `dedupe`, after its imports and `streamjob.py`, so an exported job carries it
and runs on its own (`flink run -py job.py`). rillet never imports this module.

rillet's rule (runtime/keyed.py, `DedupeOperator`): keep a record when no record of its key was
kept at most `within` before its event time (at or before it); forget a kept time once the
watermark minus `within` has passed it. The view before the `dedupe` becomes a stream (its
rowtime the records' timestamps, its watermarks carried), is keyed and deduplicated here, and
comes back as a view with the same rowtime and watermarks. Which order it decides in: dedupe.py.
"""

from bisect import bisect_right

from pyflink.common.typeinfo import Types
from pyflink.datastream import KeyedProcessFunction
from pyflink.datastream.state import MapStateDescriptor, ValueStateDescriptor
from pyflink.table import Schema


def dedupe_view(env, view, source, select, keys, within_ms, order_by):
    """`view`: the view `source` with rillet's `dedupe by keys within within_ms`."""
    stream = env.to_data_stream(env.sql_query(f"SELECT * FROM {source}"))
    kept = stream.key_by(lambda row: tuple(row[k] for k in keys)).process(
        RilletDedupe(within_ms, order_by), output_type=stream.get_type()
    )
    schema = Schema.new_builder().column_by_metadata("__kept_rt", "TIMESTAMP_LTZ(3)", "rowtime")
    schema = schema.watermark("__kept_rt", "SOURCE_WATERMARK()").build()
    env.create_temporary_view(f"{view}_stream", env.from_data_stream(kept, schema))
    env.create_temporary_view(
        view, env.sql_query(f"SELECT {select}, __kept_rt AS __rt FROM {view}_stream")
    )


class RilletDedupe(KeyedProcessFunction):
    """Per key, the sorted event times of the kept records. With `order_by` None each record is
    decided when it arrives; else a key's records of one event time are held until the watermark
    passes that time and decided in the order of their `order_by` value, then arrival. A kept
    time is forgotten by a timer at `time + within + 1`: the first watermark past it by more
    than `within`, when rillet forgets it too."""

    def __init__(self, within_ms, order_by):
        self.within_ms = within_ms
        self.order_by = order_by

    def open(self, runtime_context):
        self.kept = runtime_context.get_state(
            ValueStateDescriptor("kept", Types.PICKLED_BYTE_ARRAY())
        )
        self.held = runtime_context.get_map_state(
            MapStateDescriptor("held", Types.LONG(), Types.PICKLED_BYTE_ARRAY())
        )

    def process_element(self, row, ctx):
        ts = ctx.timestamp()
        if self.order_by is None:
            if self._keeps(ts, ctx):
                yield row
            return
        held = self.held.get(ts)
        if held is None:
            held = []
            ctx.timer_service().register_event_time_timer(ts)
        held.append(row)
        self.held.put(ts, held)

    def on_timer(self, timestamp, ctx):
        held = self.held.get(timestamp) if self.order_by is not None else None
        if held is not None:
            self.held.remove(timestamp)
            held.sort(key=self._tie_order)  # stable: then arrival
            if self._keeps(timestamp, ctx):
                yield held[0]
        self._forget(timestamp)

    def _tie_order(self, row):
        value = row[self.order_by]
        return (value is None, value if value is not None else 0)

    def _keeps(self, ts, ctx):
        kept = self.kept.value() or []
        at = bisect_right(kept, ts)
        if at and ts - kept[at - 1] <= self.within_ms:
            return False
        kept.insert(at, ts)
        self.kept.update(kept)
        ctx.timer_service().register_event_time_timer(ts + self.within_ms + 1)
        return True

    def _forget(self, now):
        """Forget the kept times before `now - within`: `now` is the timer's time, not the
        watermark, which may have jumped past times whose held records are still undecided
        (the last watermark of a bounded input fires every timer at once)."""
        kept = self.kept.value()
        if kept:
            remaining = [t for t in kept if t >= now - self.within_ms]
            if remaining:
                self.kept.update(remaining)
            else:
                self.kept.clear()
