"""The streaming linter (`dsl/lint.py`, `pathlint.py`) and its silences (`silence.py`), through
`rillet check` as an author runs it: each lint fires at its place with caret, code and hint,
stays quiet on the fixed pipeline, is silenced by `# rillet: allow CODE -- why` on its line,
and a silence that silences nothing warns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO, compile_pipeline, rillet

LIVE = 'source clicks = file("data/clicks.jsonl", follow=true)\nsink out = file("out/o.jsonl")\n'
TYPED = "schema Click { ts: int, user: int, page: str }\n"

# code -> (pipeline, the offending line and column, a hint's words, the fixed pipeline)
CASES = {
    "W1001": (
        LIVE + "clicks | aggregate by user { n = count() } | into out\n",
        (3, 10),
        "put a window before it",
        LIVE + "clicks | event_time ts | window tumbling 1m | aggregate by user { n = count() }"
        " | late into out | into out\n",
    ),
    "W1002": (
        LIVE + "clicks | window tumbling 1m | aggregate { n = count() } | into out\n",
        (3, 10),
        "declare event time before it",
        LIVE + "clicks | event_time ts | window tumbling 1m | aggregate { n = count() }"
        " | late into out | into out\n",
    ),
    "W1003": (
        LIVE + "clicks | event_time ts lateness 2s | window tumbling 1m\n"
        "  | aggregate { n = count() } | into out\n",
        (4, 5),
        "`| late into SINK`",
        LIVE + "clicks | event_time ts lateness 2s | window tumbling 1m\n"
        "  | aggregate { n = count() } | late into out | into out\n",
    ),
    "W1004": (
        'source clicks = file("data/clicks.jsonl")\nsink out = file("out/o.jsonl")\n'
        "clicks | event_time ts lateness 5m | window tumbling 1m\n"
        "  | aggregate { n = count() } | into out\n",
        (3, 54),
        "about 6 windows open at once",
        'source clicks = file("data/clicks.jsonl")\nsink out = file("out/o.jsonl")\n'
        "clicks | event_time ts lateness 30s | window tumbling 1m\n"
        "  | aggregate { n = count() } | into out\n",
    ),
    "W1005": (
        'set delivery = "exactly-once"\nsource clicks = file("data/clicks.jsonl")\n'
        "sink shown = stdout()\nclicks | into shown\n",
        (3, 14),
        "a sink that commits with the checkpoints",
        'set delivery = "at-least-once"\nsource clicks = file("data/clicks.jsonl")\n'
        "sink shown = stdout()\nclicks | into shown\n",
    ),
    "W1006": (
        TYPED + 'source clicks: Click = file("data/clicks.jsonl", follow=true)\n'
        'sink out = file("out/o.jsonl")\nclicks | into out\n',
        (2, 16),
        "add `errors into SINK`",
        TYPED + 'source clicks: Click = file("data/clicks.jsonl", follow=true)\n'
        'sink out = file("out/o.jsonl")\nsink bad = file("out/bad.jsonl")\n'
        "errors into bad\nclicks | into out\n",
    ),
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "clicks.jsonl").write_text('{"ts": 0, "user": 1, "page": "/"}\n')
    return tmp_path


def check(project: Path, text: str, *options: str) -> tuple[int, str]:
    (project / "p.rill").write_text(text)
    result = rillet("check", "p.rill", *options, cwd=project)
    return result.returncode, result.stderr.decode() + result.stdout.decode()


def codes(project: Path, text: str) -> list[str]:
    return [d.code for d in compile_pipeline(text, project).diagnostics]


def silenced(text: str, line: int, code: str) -> str:
    lines = text.split("\n")
    lines[line - 1] += f"  # rillet: allow {code} -- the test means it"
    return "\n".join(lines)


@pytest.mark.parametrize("code", sorted(CASES))
def test_lint_fires_at_its_place_with_caret_code_and_hint(project: Path, code: str) -> None:
    text, (line, col), hint, _ = CASES[code]
    status, output = check(project, text)
    assert status == 0, output  # warnings do not fail the check
    assert f"--> p.rill:{line}:{col}\n" in output, output
    source_line = text.split("\n")[line - 1]
    assert f"{line} | {source_line}\n" in output
    caret = output.split(f"{line} | {source_line}\n", 1)[1].split("\n", 1)[0]
    assert caret.index("^") - caret.index("|") - 2 == col - 1
    assert hint in output
    assert f"`# rillet: allow {code} -- why`" in output


@pytest.mark.parametrize("code", sorted(CASES))
def test_lint_is_quiet_on_the_fixed_pipeline(project: Path, code: str) -> None:
    *_, fixed = CASES[code]
    found = codes(project, fixed)
    assert code not in found
    assert [c for c in found if c.startswith("E")] == []


@pytest.mark.parametrize("code", sorted(CASES))
def test_lint_is_silenced_by_a_comment_on_its_line(project: Path, code: str) -> None:
    text, (line, _), *_ = CASES[code]
    assert codes(project, silenced(text, line, code)) == []


def test_a_silence_alone_on_the_line_above_silences_the_next_line(project: Path) -> None:
    text, (line, _), *_ = CASES["W1003"]
    lines = text.split("\n")
    lines.insert(line - 1, "  # rillet: allow W1003 -- counted in the summary, enough here")
    assert codes(project, "\n".join(lines)) == []


def test_one_silence_names_several_codes(project: Path) -> None:
    text = LIVE + "clicks | event_time ts lateness 5m | window tumbling 1m"
    text += " | aggregate { n = count() } | into out"
    assert codes(project, text) == ["W1004", "W1003"]
    assert codes(project, text + "  # rillet: allow W1004, W1003 -- both meant") == []


def test_a_stale_silence_warns_at_its_code(project: Path) -> None:
    *_, fixed = CASES["W1003"]
    text = silenced(fixed, 4, "W1003")
    status, output = check(project, text)
    assert status == 0
    assert "this silence of `W1003` silences nothing: there is no `W1003` on line 4" in output
    col = text.split("\n")[3].index("W1003") + 1
    assert f"--> p.rill:4:{col}\n" in output


@pytest.mark.parametrize(
    ("comment", "message"),
    [
        ("# rillet: allow E0202 -- no", "`E0202` is an error, which cannot be silenced"),
        ("# rillet: allow W9999 -- typo", "`W9999` is not a code"),
        ("# rillet: alow W1003", "rillet cannot read this silence"),
    ],
)
def test_a_silence_that_cannot_silence_warns(project: Path, comment: str, message: str) -> None:
    *_, fixed = CASES["W1001"]
    compiled = compile_pipeline(fixed + comment + "\n", project)
    assert [(d.code, d.message) for d in compiled.diagnostics] == [("W1000", message)]


def test_silences_are_not_called_stale_while_there_are_errors(project: Path) -> None:
    text = silenced(CASES["W1001"][0], 3, "W1001").replace("count()", "cnt()")
    assert codes(project, text) == ["E0401"]


def test_errors_are_never_silenced(project: Path) -> None:
    text = LIVE + "clicks | into nowhere  # rillet: allow E0110 -- no\n"
    assert codes(project, text) == ["E0110", "W1000"]


def test_json_output_carries_the_lint_codes(project: Path) -> None:
    text, (line, col), *_ = CASES["W1002"]
    status, output = check(project, text, "--format", "json")
    assert status == 0
    (diagnostic,) = json.loads(output)["diagnostics"]
    assert diagnostic["code"] == "W1002"
    assert diagnostic["severity"] == "warning"
    assert (diagnostic["span"]["line"], diagnostic["span"]["col"]) == (line, col)


def test_a_path_from_a_source_that_cannot_replay_warns_at_the_source(project: Path) -> None:
    text = 'set delivery = "at-least-once"\nsource piped = stdin()\nsink out = file("o.jsonl")\n'
    compiled = compile_pipeline(text + "piped | into out\n", project)
    (diagnostic,) = compiled.diagnostics
    assert diagnostic.code == "W1005"
    assert diagnostic.span is not None and diagnostic.span.line == 2
    assert "`piped → out` is at-most-once" in diagnostic.message


def test_the_error_sink_is_a_path_too(project: Path) -> None:
    text = (
        'set delivery = "exactly-once"\nsource clicks = file("data/clicks.jsonl")\n'
        'sink out = file("out/o.jsonl")\nsink bad = stdout()\nerrors into bad\n'
        "clicks | into out\n"
    )
    (diagnostic,) = compile_pipeline(text, project).diagnostics
    assert diagnostic.code == "W1005" and "`clicks → bad`" in diagnostic.message


def test_delivery_must_be_a_known_guarantee(project: Path) -> None:
    text = 'set delivery = "exactly_once"\nsource clicks = file("data/clicks.jsonl")\n'
    assert codes(project, text + 'sink out = file("o.jsonl")\nclicks | into out\n') == ["E0105"]


def test_rolling_last_n_on_a_live_input_keeps_only_the_late_lint(project: Path) -> None:
    """Bounded per key, so no state lint; its late records are still dropped."""
    text = LIVE + "clicks | event_time ts | rolling last 3 by user { n = count() } | into out\n"
    assert codes(project, text) == ["W1003"]


def test_bounded_inputs_keep_their_windows_quiet(project: Path) -> None:
    text = 'source clicks = file("data/clicks.jsonl")\nsink out = file("out/o.jsonl")\n'
    text += "clicks | window tumbling 1m | aggregate by page { n = count() } | into out\n"
    text += "clicks | event_time ts lateness 2s | window tumbling 1m\n"
    text += "  | aggregate { n = count() } | into out\n"
    text += "clicks | aggregate by user { n = count() } | into out\n"
    assert codes(project, text) == []


@pytest.mark.parametrize(
    "pipeline",
    sorted([*(REPO / "examples").glob("*.rill"), *(REPO / "bench").glob("*.rill")]),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_examples_and_benchmarks_are_lint_clean(pipeline: Path) -> None:
    compiled = compile_pipeline(pipeline.read_text(), pipeline.parent, name=pipeline.name)
    assert [d.code for d in compiled.diagnostics if d.code.startswith("W1")] == []
