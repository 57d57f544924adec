"""Every diagnostic code, with what it means, in one table: `error` and `warning`
(`diagnostic.py`) take no code that is not here, and docs/language.md §11.3 lists them all
(tests/dsl/test_codes.py holds both). A code, once given a meaning, keeps it: tools and
`--format json` readers match on it."""

from __future__ import annotations

CODES: dict[str, str] = {
    # reading and syntax
    "E0000": "the pipeline file cannot be read",
    "E0001": "an unexpected character, or an unterminated string",
    "E0002": "an unexpected token (`=` where `==` may be meant)",
    "E0003": "an unexpected end of file",
    "E0004": "an unknown operator after `|`",
    "E0005": "a number or duration out of range",
    "E0006": "an expression nested too deeply",
    "E0007": "a `\\u` escape that is half of a surrogate pair",
    # declarations
    "E0101": "a name declared twice",
    "E0102": "an unknown `-p` name",
    "E0103": "a `-p` value that does not fit its param",
    "E0104": "an unknown setting",
    "E0105": "an invalid setting",
    "E0106": "an unknown type",
    "E0107": "a field twice in one schema",
    "E0108": "an unknown schema",
    "E0109": "a second `errors into`",
    "E0110": "an unknown sink",
    "E0111": "a stream that depends on itself",
    "E0112": "an unknown source or stream",
    "E0113": "a stream twice in one `union`",
    "E0114": "an unknown table",
    "E0115": "two sinks writing one file",
    "E0116": "a step name used twice, or already a declared name",
    # names and constants
    "E0201": "an unknown name in a constant",
    "E0202": "an unknown field",
    "E0203": "not a constant where one is needed",
    "E0204": "a constant that cannot be computed",
    "E0205": "an `env` call of the wrong shape",
    "E0206": "an environment variable that is not set",
    "E0207": "an environment variable that does not convert to its default's type",
    # types
    "E0301": "operand types that do not fit",
    "E0302": "argument types that do not fit",
    "E0303": "a field or index access on a value without one",
    "E0304": "a regular expression that is invalid or that RE2 cannot run",
    # calls
    "E0401": "an unknown connector, function or operator",
    "E0402": "too many positional arguments",
    "E0403": "an unknown argument",
    "E0404": "an argument given twice",
    "E0405": "a missing argument",
    "E0406": "an invalid connector argument",
    "E0407": "a `concurrency` below 1",
    "E0408": "a connector whose Python package is not installed (the hint names the extra)",
    # inputs (`rillet check` only)
    "E0410": "a file a source or table reads does not exist, or is not a file",
    "W0410": "a glob that matches nothing yet, or a `follow=true` file not there yet",
    # hybrid sources
    "E0411": "a part of a hybrid source (`then`) that never ends, with a part after it",
    "E0412": "`after` on a source without `then`",
    # windows and aggregates
    "E0501": "a misplaced `late into`",
    "E0502": "a `window` without `aggregate` or `top`",
    "E0503": "a bad window size, or a count below 1 (`rolling last`, `top`)",
    "E0504": "an aggregate output name that clashes",
    "E0505": "a field outside an aggregate that is not a key of `by`",
    "E0506": "a misplaced or nested aggregate",
    "E0507": "an event-time field that is no longer a field where it is read",
    "E0508": "a `rolling` without event time",
    "E0509": "a `top` without `by`",
    "E0510": "a `top` without a window on an input that never ends",
    "E0511": "a misplaced `emit every` (without a window, or on a session window)",
    # plugins
    "E0603": "a `use` file not found",
    "E0604": "a `use` module that cannot be imported",
    "E0605": "a plugin that raised while loading",
    "E0606": "a plugin module without a `plugin` object",
    "E0607": "two plugins defining the same name",
    "W0601": "an installed plugin that failed to load, left out",
    "W0602": "an installed plugin that is not a `Plugin`, left out",
    "W0603": "an installed plugin that clashes with one loaded before it, left out",
    # tests
    "E0701": "a `test` block naming an unknown source",
    "E0702": "`test` records that are not a list of records",
    # alerts
    "E0801": "an unknown alert measure",
    "E0802": "an alert comparison that is not `>` `>=` `<` `<=`",
    "E0803": "an alert threshold of the wrong kind",
    "E0804": "an alert percentage above 100%",
    # joins
    "E0901": "`join` keys that mix `left = right` pairs and shared names",
    "E0902": "a kind of join other than `join` and `left join`",
    "W0901": "a `join` without `within` on an input that may never end",
    "W0902": "a `join ... within` with event time on one side only",
    # engines
    "E1401": "a step that does not map to Apache Flink (`--engine flink`, docs/flink.md)",
    # lints: streaming hazards (docs/language.md §11.4), each silenced by `# rillet: allow CODE`
    "W1000": "a `# rillet: allow` silence that silences nothing, or that cannot be read",
    "W1001": "an `aggregate` without a window on an input that may never end",
    "W1002": "a window on an input that may never end, without event time",
    "W1003": "late records dropped: no `late into` after a window or `rolling` on a live input",
    "W1004": "a lateness longer than the window it delays",
    "W1005": "a path whose delivery guarantee is weaker than `set delivery` declares",
    "W1006": "a live source with a schema, without `errors into`",
    # warnings
    "W0001": "a flow that writes to no sink",
    "W0002": "a source that is never read",
    "W0003": "a stream that is never read",
    "W0004": "a param that shadows a field",
}


__all__ = ["CODES"]
