"""The one code generator (runtime/codegen.py): the writer's indentation, that a traceback
through generated code shows the generated line, and that a failing line names the marked
operator it belongs to."""

from __future__ import annotations

import traceback

from rillet.runtime.codegen import Writer, define, failed_item


def test_blocks_indent_what_is_written_inside_them() -> None:
    w = Writer()
    with w.block("def f(x):"):
        with w.block("if x:"):
            w.line("return 1", "# done")
        w.line("return 0")
    assert w.source == "def f(x):\n    if x:\n        return 1\n        # done\n    return 0\n"


def test_a_traceback_through_generated_code_shows_the_generated_line() -> None:
    w = Writer()
    with w.block("def f(x):"):
        w.line("return 1 // x")
    (f,) = define(w, "test", {}, "f")
    try:
        f(0)
    except ZeroDivisionError as error:
        text = "".join(traceback.format_exception(error))
    assert "<rillet test " in text and "return 1 // x" in text


def test_the_same_source_compiled_twice_has_one_name() -> None:
    w = Writer()
    w.line("def f():", "    return g")
    f1, f2 = define(w, "test", {"g": 1}, "f")[0], define(w, "test", {"g": 2}, "f")[0]
    assert f1.__code__.co_filename == f2.__code__.co_filename
    assert (f1(), f2()) == (1, 2)  # each has its own globals


def test_a_failing_line_names_the_marked_item_it_belongs_to() -> None:
    w = Writer()
    with w.block("def f(items, which):"):
        with w.block("try:"):
            for index in range(3):
                w.mark()
                w.line(f"x{index} = 1", f"y{index} = 1 // (which != {index})")
        with w.block("except Exception as error:"):
            w.line("return _failed(error)")
    (f,) = define(w, "test", {"_failed": failed_item(w.marks)}, "f")
    assert [f([], which) for which in range(3)] == [0, 1, 2]
