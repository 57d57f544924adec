"""`rillet fmt` and `format_text`: golden before/after files, the layout rules one by one, and
the command's exit codes and messages.

`goldens/fmt/*.rill` → `*.expected`: the file as the formatter writes it (`pytest
--update-goldens` rewrites them; review the diff like code).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rillet.dsl.fmt import FormatError, format_text
from tests.conftest import rillet
from tests.dsl.test_goldens import GOLDENS, _check_golden

CASES = sorted((GOLDENS / "fmt").glob("*.rill"))


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_format_matches_golden(request: pytest.FixtureRequest, case: Path) -> None:
    formatted = format_text(case.read_text(encoding="utf-8"))
    _check_golden(request, case.with_suffix(".expected"), formatted)
    assert format_text(formatted) == formatted


def test_flow_gets_one_operator_per_line() -> None:
    assert format_text("a | where x>1 | into o") == "a\n  | where x > 1\n  | into o\n"


def test_blank_lines_between_statements_are_kept_to_one() -> None:
    text = "\n\nparam a = 1\n\n\n\nparam b = 2\nparam c = 3\n\n"
    assert format_text(text) == "param a = 1\n\nparam b = 2\nparam c = 3\n"


def test_keyword_argument_has_no_spaces_around_its_equals() -> None:
    text = 'sink o = file( "x" , format = "csv" )\n'
    assert format_text(text) == 'sink o = file("x", format="csv")\n'


def test_short_aggregate_block_stays_on_its_line() -> None:
    text = "a | aggregate by k {n=count(),m=max(x),}\n"
    assert format_text(text) == "a\n  | aggregate by k { n = count(), m = max(x) }\n"


def test_aggregate_block_written_over_lines_gets_one_item_per_line_aligned() -> None:
    text = "a | aggregate by k {\n n = count(), longest = max(x) }\n"
    assert format_text(text) == (
        "a\n  | aggregate by k {\n      n       = count(),\n      longest = max(x),\n    }\n"
    )


def test_list_too_long_for_its_line_is_split() -> None:
    items = ", ".join(f'"item{i}"' for i in range(12))
    formatted = format_text(f"param p = [{items}]\n")
    assert formatted.splitlines() == [
        "param p = [",
        *(f'  "item{i}",' for i in range(12)),
        "]",
    ]


def test_schema_field_types_are_aligned() -> None:
    text = "schema S { a: int, longer: list[str]? }\n"
    assert format_text(text) == "schema S {\n  a:      int\n  longer: list[str]?\n}\n"


def test_trailing_comments_of_neighbouring_lines_line_up() -> None:
    text = "param a = 1 # one\nparam bbbbbb = 2 # two\n\nparam c = 3    # three\n"
    assert format_text(text) == (
        "param a = 1       # one\nparam bbbbbb = 2  # two\n\nparam c = 3  # three\n"
    )


def test_strings_and_durations_are_written_as_they_were() -> None:
    text = 'a | where p =~ "\\\\d+\\"#not a comment" and d > 1500ms | into o\n'
    formatted = format_text(text)
    assert '"\\\\d+\\"#not a comment"' in formatted and "1500ms" in formatted


def test_comment_inside_parentheses_keeps_the_expression_whole() -> None:
    formatted = format_text("a | where (x +  # why\n 1) > 2 | into o\n")
    assert formatted == "a\n  | where (x +  # why\n        1) > 2\n  | into o\n"


def test_line_continuation_is_joined() -> None:
    assert format_text("a | where x and \\\n   y\n") == "a\n  | where x and y\n"


def test_byte_order_mark_and_crlf_are_dropped() -> None:
    assert format_text("\ufeffparam a = 1\r\nparam b = 2\r\n") == "param a = 1\nparam b = 2\n"


def test_file_of_comments_only_keeps_them() -> None:
    assert format_text("  # one\n\n\n# two") == "# one\n\n# two\n"
    assert format_text("") == ""


def test_text_that_does_not_parse_raises_its_diagnostics() -> None:
    with pytest.raises(FormatError) as raised:
        format_text("a | where x = 1\n")
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.code == "E0002" and diagnostic.span is not None
    assert (diagnostic.span.line, diagnostic.span.col) == (1, 13)


# -- the command


def _files(tmp_path: Path) -> tuple[Path, Path]:
    messy = tmp_path / "messy.rill"
    messy.write_text("param a=1\nparam b = [1,2]  # list\n")
    tidy = tmp_path / "tidy.rill"
    tidy.write_text("param a = 1\n")
    return messy, tidy


def test_check_names_the_files_that_would_change_and_exits_1(tmp_path: Path) -> None:
    messy, tidy = _files(tmp_path)
    before = messy.read_text()
    result = rillet("fmt", "--check", "messy.rill", "tidy.rill", cwd=tmp_path)
    assert result.returncode == 1, result.stderr.decode()
    assert result.stdout.decode() == "would reformat: messy.rill\n"
    assert "1 file would be reformatted, 1 already formatted" in result.stderr.decode()
    assert messy.read_text() == before


def test_check_exits_0_when_every_file_is_formatted(tmp_path: Path) -> None:
    _, tidy = _files(tmp_path)
    result = rillet("fmt", "--check", str(tidy), str(tidy))
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode() == ""


def test_fmt_rewrites_the_files_that_change(tmp_path: Path) -> None:
    messy, tidy = _files(tmp_path)
    result = rillet("fmt", "messy.rill", "tidy.rill", cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode() == "reformatted: messy.rill\n"
    assert messy.read_text() == "param a = 1\nparam b = [1, 2]  # list\n"
    assert rillet("fmt", "--check", "messy.rill", cwd=tmp_path).returncode == 0


def test_file_that_does_not_parse_gets_its_diagnostic_and_exit_2(tmp_path: Path) -> None:
    messy, _ = _files(tmp_path)
    broken = tmp_path / "broken.rill"
    broken.write_text("param a = 1\nclicks | where status = 200\n")
    result = rillet("fmt", "broken.rill", "messy.rill", "missing.rill", cwd=tmp_path)
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert "error: unexpected `=`" in err and "--> broken.rill:2:23" in err
    assert "rillet: error: cannot read missing.rill" in err
    assert "Traceback" not in err
    assert broken.read_text() == "param a = 1\nclicks | where status = 200\n"
    assert messy.read_text() == "param a = 1\nparam b = [1, 2]  # list\n"  # the others still are
