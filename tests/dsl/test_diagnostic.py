"""Rendering diagnostics: the rustc-style text (file:line:col, the source line, a caret under
the span, the label, hints) and the JSON for tools; and the helpers every phase uses."""

from __future__ import annotations

import msgspec

from rillet.dsl.diagnostic import (
    SourceText,
    did_you_mean,
    error,
    has_errors,
    render_json,
    render_text,
    warning,
)
from rillet.runtime.plan import Span

SOURCE = SourceText("p.rill", 'source clicks = file("x")\n\tclicks | where latncy > 1\n')


def test_render_text_has_location_line_caret_label_and_hints() -> None:
    d = error(
        "E0202",
        "unknown field `latncy` in `where`",
        Span(2, 17, 2, 23),
        "did you mean `latency`?",
        "fields: latency",
    )
    assert render_text([d], SOURCE) == (
        "error: unknown field `latncy` in `where`\n"
        " --> p.rill:2:17\n"
        "  |\n"
        "2 |  clicks | where latncy > 1\n"
        "  |                 ^^^^^^ did you mean `latency`?\n"
        "  = hint: fields: latency\n"
    )


def test_render_text_pads_the_gutter_to_the_line_number_width() -> None:
    text = "\n" * 11 + "clicks | into out\n"
    rendered = render_text([warning("W0001", "w", Span(12, 1, 12, 7))], SourceText("f", text))
    assert rendered.splitlines()[1:4] == ["  --> f:12:1", "   |", "12 | clicks | into out"]


def test_render_text_without_span_names_only_the_file() -> None:
    d = error("E0102", "unknown param `x` given with `-p x=...`", None, "", "declared: none")
    assert render_text([d], SOURCE) == (
        "error: unknown param `x` given with `-p x=...`\n  --> p.rill\n   = hint: declared: none\n"
    )


def test_caret_of_a_span_over_several_lines_runs_to_the_end_of_the_first() -> None:
    rendered = render_text([error("E0001", "m", Span(1, 8, 2, 3))], SOURCE)
    assert rendered.splitlines()[4] == "  |        " + "^" * len('clicks = file("x")')


def test_caret_is_at_least_one_wide_past_the_end_of_the_line() -> None:
    rendered = render_text([error("E0003", "m", Span(1, 40, 1, 41))], SOURCE)
    assert rendered.splitlines()[4] == "  | " + " " * 39 + "^"


def test_line_shown_is_counted_by_newlines_only() -> None:
    source = SourceText("f", "a\u2028b\r\nsecond\n")
    rendered = render_text([error("E0001", "m", Span(2, 1, 2, 2))], source)
    assert rendered.splitlines()[3] == "2 | second"
    assert source.line(1) == "a\u2028b"


class _CountingText(str):
    """A file's text that counts how often it is split into lines."""

    splits = 0

    def split(self, *args, **kwargs):  # type: ignore[override]
        type(self).splits += 1
        return super().split(*args, **kwargs)


def test_rendering_many_diagnostics_splits_the_file_once() -> None:
    text = _CountingText("".join(f"s | where f{i}() | into o\n" for i in range(2000)))
    diagnostics = [
        error("E0301", f"unknown function `f{i}`", Span(i + 1, 11, i + 1, 13)) for i in range(2000)
    ]
    rendered = render_text(diagnostics, SourceText("big.rill", text))
    assert _CountingText.splits == 1
    assert "2000 | s | where f1999() | into o" in rendered
    assert rendered.count("--> big.rill:") == 2000


def test_control_characters_are_escaped_in_text_output() -> None:
    d = error("E0001", "unexpected \x1b[31m", Span(1, 1, 1, 2), "bad\nlabel", "hint\x00")
    rendered = render_text([d], SourceText("f", "\x1bx\n"))
    assert "\x1b" not in rendered and "\x00" not in rendered
    assert "unexpected \\x1b[31m" in rendered
    assert "bad\\nlabel" in rendered


def test_several_diagnostics_are_separated_by_a_blank_line() -> None:
    ds = [error("E0202", "a", None), warning("W0002", "b", None)]
    assert render_text(ds, SOURCE) == "error: a\n  --> p.rill\n\nwarning: b\n  --> p.rill\n"


def test_render_json_has_every_field_and_the_file() -> None:
    d = error("E0202", "unknown field", Span(2, 17, 2, 23), "label", "hint")
    decoded = msgspec.json.decode(render_json([d], SOURCE))
    assert decoded == {
        "diagnostics": [
            {
                "severity": "error",
                "code": "E0202",
                "message": "unknown field",
                "span": {"line": 2, "col": 17, "end_line": 2, "end_col": 23},
                "label": "label",
                "hints": ["hint"],
                "file": "p.rill",
            }
        ]
    }


def test_did_you_mean_finds_close_names_only() -> None:
    assert did_you_mean("latncy_ms", ["latency_ms", "page"]) == "latency_ms"
    assert did_you_mean("zzz", ["latency_ms", "page"]) is None
    assert did_you_mean("x", []) is None


def test_typo_only_suggests_names_a_slip_away() -> None:
    assert did_you_mean("lowr", ["lower", "upper"], typo_only=True) == "lower"
    assert did_you_mean("fromat_time", ["format_time"], typo_only=True) == "format_time"
    assert did_you_mean("country_of", ["count_if"]) == "count_if"  # similar, yet unrelated
    assert did_you_mean("country_of", ["count_if"], typo_only=True) is None
    assert did_you_mean("dedpue", ["dedupe"], typo_only=True) == "dedupe"  # a swap is one


def test_warnings_alone_are_not_errors() -> None:
    assert not has_errors([warning("W0001", "w", None)])
    assert has_errors([warning("W0001", "w", None), error("E0001", "e", None)])
