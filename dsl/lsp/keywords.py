"""The built-in operators as an author writes them, each with what it does in one line (the table
of docs/language.md §4.2): the text hover shows and completion offers after `|`."""

from __future__ import annotations

OPERATORS: dict[str, tuple[str, str]] = {
    "where": ("where EXPR", "keep the records for which EXPR is truthy"),
    "select": ("select a, b, c = EXPR", "keep only these fields, computing new ones"),
    "derive": ("derive x = EXPR, y = EXPR", "add or replace fields, in order"),
    "drop": ("drop a, b", "remove fields"),
    "explode": ("explode FIELD [as NAME]", "one record per item of a list field"),
    "event_time": (
        "event_time FIELD [lateness DUR] [idle DUR]",
        "declare event time and send watermarks",
    ),
    "window": (
        "window tumbling DUR | sliding DUR every DUR | session gap DUR [emit every DUR]",
        "group into windows; must be followed by `aggregate` or `top`",
    ),
    "aggregate": (
        "aggregate [by KEYS] { name = AGG(...), ... }",
        "one record per key and window, or per key at the end of the input without a window",
    ),
    "rolling": (
        "rolling DUR | last N [by KEYS] { name = AGG(...), ... }",
        "each record with aggregates over its key's recent records (a span of event time, or "
        "the last N)",
    ),
    "top": (
        "top N by FIELD [desc|asc], ... [per KEYS]",
        "per window (or the whole input) and key, the first N records in that order, with `rank`",
    ),
    "dedupe": ("dedupe by KEYS within DUR", "drop repeats"),
    "join": (
        "[left] join STREAM on KEYS [within DUR]",
        "stream-stream join on `FIELD` or `LEFT = RIGHT` keys, records at most DUR apart; "
        "`left` also passes each left record without partner, the right's fields null",
    ),
    "lookup": ("lookup TABLE on FIELD", "enrich from a table"),
    "into": ("into SINK", "write the records to SINK; the flow goes on"),
    "late into": (
        "late into SINK",
        "right after `aggregate`, `rolling` or `top`: records that missed their window or "
        "their turn go to SINK",
    ),
}

DECLARATIONS = (
    "param",
    "set",
    "use",
    "schema",
    "source",
    "table",
    "sink",
    "stream",
    "errors into",
    "test",
    "alert",
)
"""What may start a statement, offered at the start of a line."""


def describe_operator(keyword: str) -> str:
    syntax, meaning = OPERATORS[keyword]
    return f"`{syntax}`\n\n{meaning} (docs/language.md §4)"
