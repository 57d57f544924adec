"""The job side of a job that passes views through the DataStream API (a file source with event
time, `onereader.py`; a `dedupe`, `dedupejob.py`): pasted as text into the script `jobfile.py`
writes, after the script's imports, so an exported job carries it and runs on its own
(`flink run -py job.py`). rillet never imports this module: it imports PyFlink.
"""

from pyflink.common import WatermarkStrategy
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import Schema, StreamTableEnvironment


def table_environment(settings):
    """A table environment over a stream environment, so a view can pass through a stream.
    A watermark after every record, as the table configuration says (`build`)."""
    stream = StreamExecutionEnvironment.get_execution_environment()
    stream.get_config().set_auto_watermark_interval(0)
    return StreamTableEnvironment.create(stream, settings)


def run_statement(env, statement):
    """A SQL statement, or (a dict) the arguments of a step of this script, named by `step`."""
    if isinstance(statement, dict):
        arguments = dict(statement)
        globals()[arguments.pop("step")](env, **arguments)  # a function of the script
    else:
        env.execute_sql(statement)


def one_reader_view(env, view, table, rowtime_column, rowtime, watermark):
    """`view`: `table`'s rows through one task, in the order its one reader read them, with
    the rowtime and the watermark assigned there (the planner keeps the stream's parallelism
    for the steps up to the first exchange)."""
    rows = env.to_data_stream(env.from_path(table))
    one_task = rows.assign_timestamps_and_watermarks(WatermarkStrategy.no_watermarks())
    one_task = one_task.set_parallelism(1).name(f"{table} in one task")
    schema = Schema.new_builder().column_by_expression(rowtime_column, rowtime)
    schema = schema.watermark(rowtime_column, watermark).build()
    env.create_temporary_view(view, env.from_data_stream(one_task, schema))
