"""Checking a parsed pipeline: names, connector arguments, fields and types, all errors at once.

Input is the syntax tree; output is a `Checked` program (declarations resolved, params and
connector configs evaluated, streams in dependency order) plus diagnostics. The planner only
ever sees a program without errors. Params and settings are checked in `paramcheck.py`,
schemas' types here, connectors' arguments in `connectorcheck.py`, the order of streams in
`streamorder.py`, flows and expressions in `flowcheck.py` and `exprcheck.py`, alerts in
`alertcheck.py`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rillet.runtime.plan import FieldSpec, SchemaSpec, TypeSpec
from rillet.runtime.plugin import Registry

from . import ast
from .alertcheck import check_alerts
from .checked import Checked, Draft
from .connectorcheck import ConnectorArguments, argument_node
from .constant import NotConstant, evaluate
from .diagnostic import Diagnostic, did_you_mean, error, has_errors
from .environment import Environment
from .flowcheck import FlowChecker, unknown_sink
from .hybridcheck import check_hybrid_sources
from .lint import lint
from .loader import build_registry
from .paramcheck import check_params, check_settings
from .streamorder import stream_order
from .types import SCALARS


class Checker:
    def __init__(
        self,
        program: ast.Program,
        base_dir: Path,
        overrides: Mapping[str, str],
        environ: Mapping[str, str],
    ) -> None:
        self.program = program
        self.base_dir = base_dir
        self.overrides = dict(overrides)
        self.diagnostics: list[Diagnostic] = []
        self.registry = Registry({})
        self.checked = Draft(program, self.registry, env=Environment(environ))

    def report(self, diagnostic: Diagnostic) -> None:
        self.diagnostics.append(diagnostic)

    def run(self) -> Checked:
        statements = self.program.statements
        uses = [s for s in statements if isinstance(s, ast.UseDecl)]
        self.registry, self.checked.plugins, problems = build_registry(uses, self.base_dir)
        self.checked.registry = self.registry
        self.diagnostics += problems
        self._declarations(statements)
        params = [s for s in statements if isinstance(s, ast.ParamDecl)]
        check_params(params, self.checked, self.overrides, self.report)
        check_settings(
            [s for s in statements if isinstance(s, ast.SetDecl)], self.checked, self.report
        )
        self._schemas([s for s in statements if isinstance(s, ast.SchemaDecl)])
        self._connectors()
        self._shared_files()
        self._errors_into([s for s in statements if isinstance(s, ast.ErrorsDecl)])
        self.checked.stream_order = stream_order(self.checked, self.report)
        self._step_names()
        FlowChecker(self.checked, self.report).run()
        self._tests()
        alerts = [s for s in statements if isinstance(s, ast.AlertDecl)]
        check_alerts(alerts, self.checked, self.report)
        if not has_errors(self.diagnostics):  # lints read facts only a clean check has right
            lint(self.checked, self.report)
        return self.checked.freeze()

    # -- declarations ----------------------------------------------------------------------------

    def _declarations(self, statements: tuple[ast.Statement, ...]) -> None:
        seen: dict[tuple[str, str], ast.Ident] = {}
        c = self.checked
        for s in statements:
            match s:
                case ast.SourceDecl(name=name):
                    key = ("flow", name.text)
                case ast.StreamDecl(name=name):
                    key = ("flow", name.text)
                case ast.SinkDecl(name=name):
                    key = ("sink", name.text)
                case ast.TableDecl(name=name):
                    key = ("table", name.text)
                case ast.Flow():
                    c.flows.append(s)
                    continue
                case ast.TestDecl():
                    c.tests.append(s)
                    continue
                case _:
                    continue
            if key in seen:
                first = seen[key]
                self.report(
                    error(
                        "E0101",
                        f"`{name.text}` is declared twice",
                        name.span,
                        f"first declared on line {first.span.line}",
                    )
                )
                continue
            seen[key] = name
            if isinstance(s, ast.SourceDecl):
                c.sources[name.text] = (s, {})
            elif isinstance(s, ast.StreamDecl):
                c.streams[name.text] = s
            elif isinstance(s, ast.SinkDecl):
                c.sinks[name.text] = (s, {})
            elif isinstance(s, ast.TableDecl):
                c.tables[name.text] = (s, {})

    def _type(self, expr: ast.TypeExpr) -> TypeSpec:
        name = expr.name.text
        if name not in SCALARS:
            close = did_you_mean(name, SCALARS)
            label = f"did you mean `{close}`?" if close else "not a type"
            self.report(
                error(
                    "E0106",
                    f"unknown type `{name}`",
                    expr.name.span,
                    label,
                    "types: int, float, str, bool, any, list[T], record",
                )
            )
            return TypeSpec("any", expr.optional)
        if expr.item is not None and name != "list":
            self.report(error("E0106", f"`{name}` takes no element type", expr.span))
        item = self._type(expr.item) if expr.item is not None else None
        return TypeSpec(name, expr.optional, item)

    def _schemas(self, decls: list[ast.SchemaDecl]) -> None:
        first: dict[str, ast.SchemaDecl] = {}
        for decl in decls:
            name = decl.name.text
            if name in first:
                self.report(
                    error(
                        "E0101",
                        f"schema `{name}` is declared twice",
                        decl.name.span,
                        f"first declared on line {first[name].span.line}",
                    )
                )
                continue
            first[name] = decl
            fields: dict[str, FieldSpec] = {}
            for f in decl.fields:
                if f.name.text in fields:
                    self.report(
                        error(
                            "E0107",
                            f"field `{f.name.text}` appears twice in schema `{name}`",
                            f.name.span,
                        )
                    )
                    continue
                fields[f.name.text] = FieldSpec(f.name.text, self._type(f.type))
            self.checked.schemas[name] = SchemaSpec(name, tuple(fields.values()))

    # -- connectors ------------------------------------------------------------------------------

    def _connectors(self) -> None:
        c = self.checked
        arguments = ConnectorArguments(self.registry, c.params, c.env, self.report)
        connectors: list[tuple[dict[str, tuple[Any, dict[str, Any]]], str]] = [
            (c.sources, "source"),
            (c.tables, "table"),
            (c.sinks, "sink"),
        ]
        for decls, kind in connectors:
            for name, (decl, _) in list(decls.items()):
                schema = getattr(decl, "schema", None)
                if schema is not None and schema.text not in c.schemas:
                    close = did_you_mean(schema.text, c.schemas)
                    label = f"did you mean `{close}`?" if close else "no such schema"
                    self.report(
                        error("E0108", f"unknown schema `{schema.text}`", schema.span, label)
                    )
                config = arguments.config(decl.call, kind)
                decls[name] = (decl, config if config is not None else {})
        check_hybrid_sources(c, arguments, self.report)

    def _shared_files(self) -> None:
        """Two sinks writing one file would each start it over and write across the other; a
        connector that owns its file names the argument holding it (`Spec.exclusive`)."""
        writers: dict[str, ast.SinkDecl] = {}
        for decl, config in self.checked.sinks.values():
            spec = self.registry.get("sink", decl.call.name.text)
            path = config.get(spec.exclusive) if spec is not None and spec.exclusive else None
            if not isinstance(path, str):
                continue
            first = writers.setdefault(os.path.normpath(self.base_dir / path), decl)
            if first is not decl:
                assert spec is not None and spec.exclusive is not None
                self.report(
                    error(
                        "E0115",
                        f"sinks `{first.name.text}` and `{decl.name.text}` both write "
                        f"{os.path.normpath(path)}",
                        argument_node(decl.call, spec, spec.exclusive).span,
                        f"`{first.name.text}` writes this file too (line {first.span.line})",
                        "give each sink a file of its own",
                    )
                )

    def _errors_into(self, decls: list[ast.ErrorsDecl]) -> None:
        for index, decl in enumerate(decls):
            if index:
                self.report(
                    error(
                        "E0109",
                        "`errors into` is declared twice",
                        decl.span,
                        "a pipeline has one error sink",
                    )
                )
                continue
            if self.sink_exists(decl.sink):
                self.checked.error_sink = decl.sink.text

    def sink_exists(self, ident: ast.Ident) -> bool:
        problem = unknown_sink(self.checked, ident)
        if problem is not None:
            self.report(problem)
        return problem is None

    # -- streams ---------------------------------------------------------------------------------

    def _step_names(self) -> None:
        """A name given to a step (`| where ... as ok_clicks`) labels it in the live view and
        in metrics, where two steps, or a step and a declaration, must not look alike."""
        c = self.checked
        taken = {
            **dict.fromkeys(c.sources, "a source"),
            **dict.fromkeys(c.streams, "a stream"),
            **dict.fromkeys(c.sinks, "a sink"),
            **dict.fromkeys(c.tables, "a table"),
        }
        first: dict[str, ast.Ident] = {}
        for flow in [*(s.flow for s in c.streams.values()), *c.flows]:
            for op in flow.ops:
                named = getattr(op, "named", None)
                if named is None:
                    continue
                if named.text in first:
                    line = first[named.text].span.line
                    where = (
                        "earlier on this line"
                        if line == named.span.line
                        else (f"first given on line {line}")
                    )
                    self.report(
                        error(
                            "E0116",
                            f"step name `{named.text}` is used twice",
                            named.span,
                            where,
                            "each named step needs a name of its own",
                        )
                    )
                elif named.text in taken:
                    self.report(
                        error(
                            "E0116",
                            f"step name `{named.text}` is already {taken[named.text]}",
                            named.span,
                            "a step's name must differ from the declared names",
                        )
                    )
                first.setdefault(named.text, named)

    # -- tests -----------------------------------------------------------------------------------

    def _tests(self) -> None:
        c = self.checked
        for test in c.tests:
            for given in test.given:
                if given.source.text not in c.sources:
                    close = did_you_mean(given.source.text, c.sources)
                    label = f"did you mean `{close}`?" if close else "no such source"
                    self.report(
                        error(
                            "E0701",
                            f"unknown source `{given.source.text}` in test",
                            given.source.span,
                            label,
                        )
                    )
                self._test_records(given.value, "given records")
            for expect in test.expect:
                self.sink_exists(expect.sink)
                self._test_records(expect.value, "expected records")

    def _test_records(self, expr: ast.Expr, what: str) -> None:
        try:
            value = evaluate(expr, self.checked.params, what, self.checked.env)
        except NotConstant as e:
            self.report(e.diagnostic)
            return
        if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
            self.report(
                error(
                    "E0702",
                    f"{what} must be a list of records",
                    expr.span,
                    "like `[{a: 1}, {a: 2}]`",
                )
            )


def check(
    program: ast.Program,
    base_dir: Path,
    overrides: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[Checked, list[Diagnostic]]:
    """`environ`: the variables `env()` may read (none when None)."""
    checker = Checker(program, base_dir, overrides or {}, environ or {})
    checked = checker.run()
    return checked, sorted(checker.diagnostics, key=_position)


def _position(d: Diagnostic) -> tuple[int, int]:
    """Diagnostics in the order of the file; those without a place (`-p`, plugins) first."""
    return (0, 0) if d.span is None else (d.span.line, d.span.col)
