"""The same plan on Apache Flink: the plan IR (`rillet.runtime.plan`) → Flink SQL → a PyFlink job.

    Plan ──translate.py──▶ FlinkJob (SQL statements + the operators that cannot map)
         ──jobfile.py───▶ a standalone PyFlink script (`rillet export --engine flink`), with
                          dedupejob.py's DataStream code pasted in for a `dedupe` (dedupe.py)
         ──local.py─────▶ that script run on a local mini-cluster (`rillet run --engine flink`)

Expressions compile to SQL (`sqlexpr.py`, `aggsql.py`) with the column types `coltypes.py`
follows through the plan; a function without a SQL built-in of the same meaning becomes a
Python UDF calling rillet's own code (`functions.py`, `pyops.py`). Reads only the plan (and the
plugins it names), never pipeline text; imports the runtime's plan types and nothing of the
front end or the standard library, so it can be used on a plan built by hand. PyFlink itself is
imported only by the job a script runs (`rillet[flink]`). Read next: `translate.py`.
"""
