"""Fused stateless stages (runtime/stage.py, runtime/compile.py): what `where`, `select`,
`derive`, `drop` and `explode` do to a batch, how a failing record is handed to `on_error` while
the rest of the batch goes on, that offsets stay aligned with records, that a chain fuses into
one stage, and that the generated source never holds user text outside string literals.
"""

from __future__ import annotations

import ast
from pathlib import Path

import msgspec
import pytest

from rillet.runtime import SystemClock
from rillet.runtime.compile import compile_plan, operator_name
from rillet.runtime.expr import ExprError
from rillet.runtime.plan import (
    Assign,
    Binary,
    Call,
    Derive,
    Drop,
    Explode,
    Field,
    Index,
    Lit,
    RecordOf,
    Select,
    Where,
)
from rillet.runtime.stage import CompiledStage, compile_stage, row_type
from tests.conftest import compile_pipeline, run_pipeline
from tests.runtime._collect import CollectSink


def F(*path: str) -> Field:
    return Field(path)


def L(value: object) -> Lit:
    return Lit(value)


class Failures:
    """An `on_error` that keeps (record, offset, operator index, error) of each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict, int, int, BaseException]] = []

    def __call__(self, record: dict, offset: int, op: int, error: BaseException) -> None:
        self.calls.append((record, offset, op, error))


def run(
    stage: CompiledStage,
    records: list[dict],
    offsets: list[int] | None = None,
    on_error: Failures | None = None,
) -> tuple[list[dict], list[int]]:
    offsets = list(range(len(records))) if offsets is None else offsets
    return stage.run(records, offsets, on_error if on_error is not None else Failures())


# -- operators -----------------------------------------------------------------------------------


def test_derive_is_sequential_when_later_assignment_reads_earlier() -> None:
    stage = compile_stage(
        [
            Derive(
                (
                    Assign("b", Binary("+", F("a"), L(1))),
                    Assign("c", Binary("*", F("b"), L(10))),
                    Assign("a", L("replaced")),
                    Assign("d", F("a")),
                )
            )
        ],
        {},
    )
    out, _ = run(stage, [{"a": 1}])
    assert out == [{"a": "replaced", "b": 2, "c": 20, "d": "replaced"}]


def test_derive_leaves_input_record_unchanged() -> None:
    record = {"a": 1}
    stage = compile_stage([Derive((Assign("a", L(2)), Assign("b", L(3))))], {})
    out, _ = run(stage, [record])
    assert record == {"a": 1}
    assert out == [{"a": 2, "b": 3}]


def test_derive_of_this_is_a_snapshot_not_a_cycle() -> None:
    stage = compile_stage([Derive((Assign("b", L(1)), Assign("copy", F()), Assign("c", L(2))))], {})
    out, _ = run(stage, [{"a": 0}])
    assert out == [{"a": 0, "b": 1, "copy": {"a": 0, "b": 1}, "c": 2}]
    assert msgspec.json.decode(msgspec.json.encode(out[0])) == out[0]


def test_index_of_this_reads_key_held_in_another_field() -> None:
    stage = compile_stage([Derive((Assign("v", Index(F(), F("which"))),))], {})
    out, _ = run(stage, [{"which": "x y", "x y": 7}, {"which": "nope"}])
    assert [r["v"] for r in out] == [7, None]


def test_select_keeps_only_named_and_computed_fields() -> None:
    stage = compile_stage(
        [
            Select(
                (
                    Assign("a", F("a")),
                    Assign("missing", F("missing")),
                    Assign("twice", Binary("*", F("a"), L(2))),
                )
            )
        ],
        {},
    )
    out, _ = run(stage, [{"a": 3, "b": 4}])
    assert out == [{"a": 3, "missing": None, "twice": 6}]


def test_drop_removes_fields_and_ignores_absent_ones() -> None:
    record = {"a": 1, "b": 2, "c": 3}
    stage = compile_stage([Drop(("b", "absent"))], {})
    out, _ = run(stage, [record])
    assert out == [{"a": 1, "c": 3}]
    assert record == {"a": 1, "b": 2, "c": 3}


def test_where_keeps_records_whose_condition_is_true() -> None:
    stage = compile_stage([Where(Binary(">", F("a"), L(1)))], {})
    out, offsets = run(stage, [{"a": 1}, {"a": 2}, {}, {"a": None}, {"a": 5}], [10, 20, 30, 40, 50])
    assert out == [{"a": 2}, {"a": 5}]
    assert offsets == [20, 50]


def test_explode_emits_one_record_per_element_into_name() -> None:
    stage = compile_stage([Explode("tags", "tag")], {})
    out, offsets = run(stage, [{"id": 1, "tags": ["x", "y"]}, {"id": 2, "tags": ["z"]}], [5, 9])
    assert out == [
        {"id": 1, "tags": ["x", "y"], "tag": "x"},
        {"id": 1, "tags": ["x", "y"], "tag": "y"},
        {"id": 2, "tags": ["z"], "tag": "z"},
    ]
    assert offsets == [5, 5, 9]


def test_explode_without_as_replaces_list_with_element() -> None:
    stage = compile_stage([Explode("tags", "tags")], {})
    out, _ = run(stage, [{"tags": [1, 2]}])
    assert out == [{"tags": 1}, {"tags": 2}]


@pytest.mark.parametrize(
    "record", [{"tags": None}, {}, {"tags": []}], ids=["null", "missing", "empty"]
)
def test_explode_drops_record_when_list_is_null_or_empty(record: dict) -> None:
    failures = Failures()
    stage = compile_stage([Explode("tags", "tag")], {})
    out, offsets = run(stage, [record, {"tags": [7]}], [1, 2], failures)
    assert out == [{"tags": [7], "tag": 7}]
    assert offsets == [2]
    assert failures.calls == []


def test_explode_of_non_list_is_an_error_for_that_record_only() -> None:
    failures = Failures()
    stage = compile_stage([Where(L(True)), Explode("tags", "tag")], {})
    out, offsets = run(
        stage, [{"tags": [1]}, {"tags": "abc"}, {"tags": [2, 3]}], [0, 8, 16], failures
    )
    assert out == [{"tags": [1], "tag": 1}, {"tags": [2, 3], "tag": 2}, {"tags": [2, 3], "tag": 3}]
    assert offsets == [0, 16, 16]
    [(record, offset, op, error)] = failures.calls
    assert (record, offset, op) == ({"tags": "abc"}, 8, 1)
    assert isinstance(error, ExprError)
    assert str(error) == "`explode tags` needs a list, got str"


def test_operators_after_explode_apply_to_each_element() -> None:
    stage = compile_stage(
        [
            Explode("xs", "x"),
            Where(Binary("!=", F("x"), L(2))),
            Select((Assign("x", F("x")), Assign("inv", Binary("/", L(1), F("x"))))),
        ],
        {},
    )
    failures = Failures()
    out, offsets = run(stage, [{"xs": [1, 2, 4]}, {"xs": [0, 5]}, {"xs": [8]}], [0, 1, 2], failures)
    # the second record fails on its first element: none of its elements is emitted
    assert out == [{"x": 1, "inv": 1.0}, {"x": 4, "inv": 0.25}, {"x": 8, "inv": 0.125}]
    assert offsets == [0, 0, 2]
    assert [(c[1], c[2]) for c in failures.calls] == [(1, 2)]


# -- errors and offsets --------------------------------------------------------------------------


def test_failing_record_goes_to_on_error_with_operator_index_and_batch_goes_on() -> None:
    ops = [
        Where(Binary("!=", F("skip"), L(True))),
        Derive((Assign("sum", Binary("+", F("a"), F("b"))),)),
        Derive((Assign("ratio", Binary("/", F("sum"), F("d"))),)),
        Select((Assign("ratio", F("ratio")),)),
    ]
    stage = compile_stage(ops, {})
    records = [
        {"a": 1, "b": 1, "d": 2},
        {"a": "x", "b": 1, "d": 1},  # str + int fails in operator 1
        {"a": 1, "b": 1, "d": 1, "skip": True},
        {"a": 2, "b": 2, "d": 0},  # division by zero in operator 2
        {"a": 3, "b": 3, "d": 3},
    ]
    failures = Failures()
    out, offsets = run(stage, records, [100, 200, 300, 400, 500], failures)
    assert out == [{"ratio": 1.0}, {"ratio": 2.0}]
    assert offsets == [100, 500]
    assert [(r, o, op, type(e)) for r, o, op, e in failures.calls] == [
        (records[1], 200, 1, TypeError),
        (records[3], 400, 2, ZeroDivisionError),
    ]


def test_offsets_stay_aligned_when_records_are_filtered_and_fail() -> None:
    stage = compile_stage(
        [
            Where(Binary("==", Binary("%", F("n"), L(3)), L(0))),
            Derive((Assign("inv", Binary("//", L(60), Binary("-", F("n"), L(6)))),)),
        ],
        {},
    )
    records = [{"n": n} for n in range(20)]
    failures = Failures()
    out, offsets = run(stage, records, [1000 + 7 * n for n in range(20)], failures)
    assert [r["n"] for r in out] == [0, 3, 9, 12, 15, 18]
    assert offsets == [1000 + 7 * r["n"] for r in out]
    assert [(r["n"], o) for r, o, _, _ in failures.calls] == [(6, 1042)]


def test_raising_on_error_stops_the_batch() -> None:
    class Stop(Exception):
        pass

    def on_error(record: dict, offset: int, op: int, error: BaseException) -> None:
        raise Stop(offset)

    stage = compile_stage([Derive((Assign("x", Binary("/", L(1), F("d"))),))], {})
    with pytest.raises(Stop) as raised:
        stage.run([{"d": 1}, {"d": 0}, {"d": 2}], [0, 1, 2], on_error)
    assert raised.value.args == (1,)


# -- wheres and a select: one comprehension ------------------------------------------------------


def test_a_failing_record_in_a_filter_and_map_stage_goes_to_on_error_and_the_rest_go_on() -> None:
    ops = [
        Where(Binary(">", F("n"), L(0))),
        Select((Assign("inv", Binary("//", L(60), Binary("-", F("n"), L(6)))),)),
    ]
    stage = compile_stage(ops, {})
    assert "for r0 in records if" in stage.source  # the comprehension, with the loop behind it
    records = [{"n": n} for n in range(-2, 9)]
    failures = Failures()
    out, offsets = run(stage, records, [10 * n for n in range(-2, 9)], failures)
    assert out == [{"inv": 60 // (n - 6)} for n in (1, 2, 3, 4, 5, 7, 8)]
    assert list(offsets) == [10, 20, 30, 40, 50, 70, 80]
    assert [(r, o, op, type(e)) for r, o, op, e in failures.calls] == [
        ({"n": 6}, 60, 1, ZeroDivisionError)
    ]


def test_the_offsets_of_the_records_a_comprehension_kept_are_theirs() -> None:
    stage = compile_stage(
        [Where(Binary("==", Binary("%", F("n"), L(3)), L(0))), Where(Binary(">", F("n"), L(4)))],
        {},
    )
    records = [{"n": n} for n in range(20)]
    out, offsets = run(stage, records, [1000 + 7 * n for n in range(20)])
    assert out == [{"n": n} for n in (6, 9, 12, 15, 18)]
    assert list(offsets) == [1000 + 7 * r["n"] for r in out]
    everything = [{"n": 3 * n} for n in range(2, 6)]
    assert run(stage, everything, [5, 6, 7, 8]) == (everything, [5, 6, 7, 8])


def test_a_plugin_function_is_called_once_per_record_even_when_a_record_fails() -> None:
    calls: list[object] = []

    def tally(value: object) -> object:
        calls.append(value)
        return 10 // value  # type: ignore[operator]

    stage = compile_stage([Select((Assign("x", Call("tally", (F("n"),))),))], {"tally": tally})
    failures = Failures()
    out, _ = run(stage, [{"n": 1}, {"n": 0}, {"n": 2}], on_error=failures)
    assert out == [{"x": 10}, {"x": 5}]
    assert calls == [1, 0, 2]
    assert [c[1] for c in failures.calls] == [1]


# -- fusion and generated code -------------------------------------------------------------------


def _physical(text: str, base_dir: Path):
    compiled = compile_pipeline(text, base_dir)
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    assert compiled.plan is not None and compiled.checked is not None
    return compiled.plan, compile_plan(compiled.plan, compiled.checked.registry, SystemClock())


def test_stateless_chain_fuses_into_one_stage(tmp_path: Path) -> None:
    plan, physical = _physical(
        'source s = file("in.jsonl")\nsink o = file("out.jsonl")\n'
        "s | where a > 1 | derive b = a * 2 | select a, b | drop a | into o\n",
        tmp_path,
    )
    assert len(plan.nodes) == 6
    assert [n.kind for n in physical.nodes.values()] == ["source", "stage", "sink"]
    (stage,) = [n for n in physical.nodes.values() if n.kind == "stage"]
    assert [operator_name(n) for n in stage.plan_nodes] == ["where", "derive", "select", "drop"]
    assert stage.stage is not None and stage.stage.source.count("for ") == 1


def test_fusion_stops_at_a_fan_out(tmp_path: Path) -> None:
    _, physical = _physical(
        'source s = file("in.jsonl")\nsink o = file("o.jsonl")\nsink p = file("p.jsonl")\n'
        "stream ok = s | where a > 1\nok | derive b = 1 | into o\nok | select a | into p\n",
        tmp_path,
    )
    stages = [
        [operator_name(p) for p in n.plan_nodes]
        for n in physical.nodes.values()
        if n.kind == "stage"
    ]
    assert sorted(stages) == [["derive"], ["select"], ["where"]]


def test_fused_chain_runs_end_to_end(tmp_path: Path, write) -> None:
    write("in.jsonl", "\n".join(f'{{"a": {a}}}' for a in range(6)) + "\n")
    out = CollectSink()
    metrics = run_pipeline(
        'source s = file("in.jsonl")\nsink o = file("out.jsonl")\n'
        "s | where a % 2 == 1 | derive b = a * 10, c = b + 1 | select a, c | into o\n",
        tmp_path,
        sinks={"o": out},
    )
    assert out.records == [{"a": 1, "c": 11}, {"a": 3, "c": 31}, {"a": 5, "c": 51}]
    (stage,) = metrics.by_kind("stage")
    assert (stage.records_in, stage.records_out, stage.errors) == (6, 3, 0)


HOSTILE = ["a'b", '"); import os; ("', "x\\ny", "'''", "r0", "__import__('os')"]


def _strings_and_names(source: str) -> tuple[set[str], set[str]]:
    """The string constants and the identifiers of generated code (which must hold no import)."""
    tree = ast.parse(source)
    nodes = list(ast.walk(tree))
    assert not any(isinstance(n, ast.Import | ast.ImportFrom) for n in nodes)
    strings = {n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    names = {n.id for n in nodes if isinstance(n, ast.Name)}
    names |= {n.attr for n in nodes if isinstance(n, ast.Attribute)}
    names |= {n.arg for n in nodes if isinstance(n, ast.keyword) and n.arg is not None}
    return strings, names


@pytest.mark.parametrize("name", HOSTILE)
def test_generated_code_holds_user_text_only_in_string_literals(name: str) -> None:
    stage = compile_stage(
        [
            Where(Binary("!=", F(name), L(name))),
            Derive(
                (
                    Assign(name, Binary("??", F(name, name), L(name))),
                    Assign("rec", RecordOf(((name, F(name)),))),
                )
            ),
            Select((Assign(name, F(name)), Assign("rec", F("rec")), Assign("xs", F("xs")))),
            Drop(("xs",)),
        ],
        {},
    )
    strings, names = _strings_and_names(stage.source)
    assert name in strings
    assert name not in names or name == "r0"  # `r0` is also a generated variable's name
    out, _ = run(stage, [{name: {name: "inner"}, "xs": [1]}, {name: name}, {}])
    assert out == [{name: "inner", "rec": {name: "inner"}}, {name: name, "rec": {name: name}}]


@pytest.mark.parametrize("name", HOSTILE)
def test_generated_explode_holds_user_text_only_in_string_literals(name: str) -> None:
    stage = compile_stage([Explode(name, name + "!")], {})
    strings, names = _strings_and_names(stage.source)
    assert {name, name + "!"} <= strings
    assert name not in names or name == "r0"
    failures = Failures()
    out, _ = run(stage, [{name: [1, 2]}, {name: 3}], on_error=failures)
    assert out == [{name: [1, 2], name + "!": 1}, {name: [1, 2], name + "!": 2}]
    [(_, _, _, error)] = failures.calls
    assert str(error) == f"`explode {name}` needs a list, got int"


def test_generated_code_treats_hostile_field_name_as_data_end_to_end(tmp_path: Path, write) -> None:
    name = '"); import os; ("'
    write("in.jsonl", msgspec.json.encode({name: 1, "a'b": 2}).decode() + "\n")
    out = CollectSink()
    run_pipeline(
        'source s = file("in.jsonl")\nsink o = file("out.jsonl")\n'
        's | derive x = this["\\"); import os; (\\""] + this["a\'b"], '
        'y = {"\\"); import os; (\\"": "a\'b"} | into o\n',
        tmp_path,
        sinks={"o": out},
    )
    assert out.records == [{name: 1, "a'b": 2, "x": 3, "y": {name: "a'b"}}]


@pytest.mark.parametrize(
    "ops",
    [
        "derive a = null | derive c = a + 1, d = a ?? -1, e = a > 0",
        "derive a = if b == 2 then null else a | derive c = a + 1, d = a ?? -1, e = a > 0",
        "explode xs as a | derive c = a + 1, d = a ?? -1, e = a > 0",
    ],
    ids=["derive-null", "derive-maybe-null", "explode-into"],
)
def test_required_schema_field_reads_as_null_once_nulled(tmp_path: Path, write, ops: str) -> None:
    """A schema's required field is present and non-null on input; once an operator may have
    made it null, it follows the null rules again (no type error)."""
    write("in.jsonl", '{"a": 1, "b": 2, "xs": [null]}\n')
    out, rejects = CollectSink(), CollectSink()
    run_pipeline(
        "schema R {\n  a: int\n  b: int\n  xs: list[int?]\n}\n"
        'source s: R = file("in.jsonl")\nsink o = file("o.jsonl")\nsink e = file("e.jsonl")\n'
        f"errors into e\ns | {ops} | select c, d, e | into o\n",
        tmp_path,
        sinks={"o": out, "e": rejects},
    )
    assert rejects.records == []
    assert out.records == [{"c": None, "d": -1, "e": False}]


def test_rows_for_encoding_sinks_encode_as_dicts_would() -> None:
    names = ("a", "two words", "class", "_x", "a1")
    row = row_type(names)(1, None, [1, {"k": "v"}], "s", 2.5)
    record = dict(zip(names, [1, None, [1, {"k": "v"}], "s", 2.5], strict=True))
    assert msgspec.json.encode(row) == msgspec.json.encode(record)
    assert row_type(names) is row_type(names)


def test_a_select_into_a_jsonl_file_writes_rows_a_collecting_sink_gets_dicts(
    tmp_path: Path, write
) -> None:
    write("in.jsonl", "\n".join(f'{{"a": {a}, "b": "x{a}"}}' for a in range(6)) + "\n")
    text = (
        'source s = file("in.jsonl")\nsink o = file("out.jsonl")\n'
        "s | where a % 2 == 1 | select a, _b = b, c = null, class = a > 2 | into o\n"
    )
    _, physical = _physical(text, tmp_path)
    (stage,) = [n for n in physical.nodes.values() if n.kind == "stage"]
    assert stage.stage is not None and "_Row(" in stage.stage.source
    run_pipeline(text, tmp_path)
    expected = [{"a": a, "_b": f"x{a}", "c": None, "class": a > 2} for a in (1, 3, 5)]
    written = (tmp_path / "out.jsonl").read_bytes()
    assert written == b"".join(msgspec.json.encode(r) + b"\n" for r in expected)
    out = CollectSink()
    run_pipeline(text, tmp_path, sinks={"o": out})
    assert out.records == expected
