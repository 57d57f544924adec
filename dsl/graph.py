"""`rillet graph`: a plan's dataflow as a terminal tree, a Mermaid flowchart or a Graphviz digraph.

`build` turns a `rillet.runtime.plan.Plan` into a plain `Graph` (one vertex per plan node, one
per lookup table, labelled edges); `text`, `mermaid` and `dot` only lay that value out, so the
three formats cannot disagree. It reads the logical plan, not the physical one: fusion is what
`explain.py` shows. Labels come from `render.py`, with values read through `env()` written
`env("NAME")` (`Plan.secrets`).
"""

from __future__ import annotations

from dataclasses import dataclass

from rillet.runtime import plan as ir
from rillet.runtime.secret import Secrets

from . import render

# Edge labels: "" a flow, "right" the second input of a join, "late" the late records of an
# aggregate or rolling, "table" the table a lookup reads, "errors" bad records into the
# `errors into` sink.
_RANK = {"": 0, "right": 0, "late": 1, "table": 2, "errors": 3}


@dataclass(frozen=True)
class Vertex:
    key: str  # n<plan node id> or t<table name>
    kind: str  # source | operator | sink | table
    label: str

    @property
    def ref(self) -> str:
        """How the text layout points at the vertex: `#3`, or the table's label."""
        return f"#{self.key[1:]}" if self.key.startswith("n") else self.label


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    label: str = ""


@dataclass(frozen=True)
class Graph:
    vertices: tuple[Vertex, ...]
    edges: tuple[Edge, ...]


def _kind(op: ir.Op) -> str:
    return (
        "source" if isinstance(op, ir.Source) else "sink" if isinstance(op, ir.Sink) else "operator"
    )


def build(plan: ir.Plan) -> Graph:
    secrets = Secrets(plan.secrets)
    vertices = [Vertex(f"n{n.id}", _kind(n.op), secrets.mask(render.node(n))) for n in plan.nodes]
    tables: dict[str, Vertex] = {}
    edges: list[Edge] = []
    sinks = {n.op.name: n.id for n in plan.nodes if isinstance(n.op, ir.Sink)}
    for n in plan.nodes:
        for port, i in enumerate(n.inputs):
            label = "right" if isinstance(n.op, ir.Join) and port == 1 else ""
            edges.append(Edge(f"n{i}", f"n{n.id}", label))
        if isinstance(n.op, ir.Lookup):
            table = n.op.table
            vertex = tables.setdefault(
                table.name,
                Vertex(f"t{table.name}", "table", f"table {table.name} ({table.connector})"),
            )
            edges.append(Edge(vertex.key, f"n{n.id}", "table"))
        late_sink = ir.late_sink(n.op)
        if late_sink is not None:
            edges.append(Edge(f"n{n.id}", f"n{sinks[late_sink]}", "late"))
    if plan.error_sink is not None:
        # What the runtime gives an error outlet: sources, fused stages and operators.
        edges += [
            Edge(f"n{n.id}", f"n{plan.error_sink}", "errors")
            for n in plan.nodes
            if not isinstance(n.op, ir.Sink | ir.Union)
        ]
    edges.sort(key=lambda e: _RANK[e.label])  # stable: flows first, each kind in plan order
    return Graph((*vertices, *tables.values()), tuple(edges))


# -- text ----------------------------------------------------------------------------------------


def text(graph: Graph) -> str:
    """A tree per source: each vertex is written out once, under its first input (a join under
    its left side); other edges into it are one line pointing there (`#5 ... (under #4)`)."""
    by_key = {v.key: v for v in graph.vertices}
    flows = [e for e in graph.edges if e.label != "errors"]
    home: dict[str, Edge] = {}
    for e in flows:
        home.setdefault(e.dst, e)
    children: dict[str, list[Edge]] = {v.key: [] for v in graph.vertices}
    for e in flows:
        children[e.src].append(e)
    errors = [e for e in graph.edges if e.label == "errors"]
    only_errors = {e.dst for e in errors} - set(home)
    order = {"source": 0, "table": 1}
    roots = sorted(
        (v for v in graph.vertices if v.key not in home and v.key not in only_errors),
        key=lambda v: order.get(v.kind, 2),
    )
    lines: list[str] = []

    def walk(edge: Edge, prefix: str, last: bool) -> None:
        v = by_key[edge.dst]
        tag = f"{edge.label} → " if edge.label else ""
        branch = "└─ " if last else "├─ "
        if home[v.key] is not edge:
            shown = by_key[home[v.key].src].ref
            lines.append(f"{prefix}{branch}{tag}{v.ref} {v.label}  (shown under {shown})")
            return
        lines.append(f"{prefix}{branch}{tag}{v.ref} {v.label}")
        below = children[v.key]
        for k, child in enumerate(below):
            walk(child, prefix + ("   " if last else "│  "), k == len(below) - 1)

    for root in roots:
        lines.append(f"{root.ref} {root.label}" if root.kind != "table" else root.label)
        below = children[root.key]
        for k, child in enumerate(below):
            walk(child, "", k == len(below) - 1)
    for dst in dict.fromkeys(e.dst for e in errors):
        sources = " ".join(by_key[e.src].ref for e in errors if e.dst == dst)
        v = by_key[dst]
        lines.append(f"errors from {sources} → {v.ref} {v.label}")
    return "\n".join(lines) + "\n"


# -- mermaid -------------------------------------------------------------------------------------

_MERMAID_SHAPE = {
    "source": '(["{}"])',
    "sink": '[/"{}"/]',
    "table": '[("{}")]',
    "operator": '["{}"]',
}


def _mermaid_label(label: str) -> str:
    for raw, code in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        label = label.replace(raw, code)
    return label


def mermaid(graph: Graph) -> str:
    lines = ["flowchart LR"]
    lines += [
        f"    {v.key}{_MERMAID_SHAPE[v.kind].format(_mermaid_label(v.label))}"
        for v in graph.vertices
    ]
    for e in graph.edges:
        arrow = "-.->" if e.label in ("errors", "table") else "-->"
        lines.append(f"    {e.src} {arrow}{f'|{e.label}|' if e.label else ''} {e.dst}")
    return "\n".join(lines) + "\n"


# -- dot -----------------------------------------------------------------------------------------

_DOT_SHAPE = {"source": "oval", "sink": "oval", "table": "cylinder", "operator": "box"}
_DOT_STYLE = {
    "": "",
    "right": ' [label="right"]',
    "late": ' [label="late"]',
    "table": ' [label="table", style=dotted]',
    "errors": ' [label="errors", style=dashed, color=gray50, fontcolor=gray50]',
}


def _dot_label(label: str) -> str:
    return '"' + label.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(graph: Graph) -> str:
    lines = ["digraph pipeline {", "    rankdir=LR;", '    node [shape=box, fontname="monospace"];']
    lines += [
        f"    {v.key} [label={_dot_label(v.label)}, shape={_DOT_SHAPE[v.kind]}];"
        for v in graph.vertices
    ]
    lines += [f"    {e.src} -> {e.dst}{_DOT_STYLE[e.label]};" for e in graph.edges]
    return "\n".join(lines + ["}"]) + "\n"


FORMATS = {"text": text, "mermaid": mermaid, "dot": dot}

__all__ = ["FORMATS", "Edge", "Graph", "Vertex", "build", "dot", "mermaid", "text"]
