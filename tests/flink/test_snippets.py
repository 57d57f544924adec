"""The docs' windowed, join, lookup and session snippets (docs/language.md, README.md) give
the same records on Flink as on the embedded engine, over the same generated files.

Two mechanical changes make a snippet runnable on Flink, and nothing else is touched: a
`stdout()` sink becomes a file of its name (Flink has no stdout table), and a source of a
`data/` file without a schema gets that file's schema (a Flink table needs its columns' types).
A snippet that still does not map (`follow=true`, `emit every`, Kafka, a hybrid source) or
reads a file not generated here is left out; the test names the kinds that must have run. A
`late into` sink stays empty on Flink, as docs/flink.md decides. All snippets run in one
process: one JVM start."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rillet.dsl.cli import main
from rillet.dsl.pipeline import compile_file
from rillet.flink.translate import translate
from tests.conftest import REPO
from tests.flink.test_conformance import _records, _same
from tests.test_docs import rill_snippets

SCHEMAS = {
    "Click": "schema Click {\n  ts: int\n  user: int\n  page: str\n  status: int\n"
    "  latency_ms: float\n}\n",
    "Order": "schema Order {\n  ts: int\n  user: int\n  order_id: str\n  amount: float\n}\n",
    "Payment": "schema Payment {\n  ts: int\n  order: str\n  paid: float\n}\n",
}
DATA_SCHEMAS = {
    "clicks.jsonl": "Click",
    "events.jsonl": "Click",
    "visits.jsonl": "Click",
    "sessions.jsonl": "Click",
    "orders.jsonl": "Order",
    "payments.jsonl": "Payment",
}
KINDS = {
    "tumbling": "window tumbling",
    "sliding": "window sliding",
    "session": "window session",
    "join": "| join",
    "left join": "| left join",
    "lookup": "| lookup",
}
PAGES = ["/", "/home", "/cart", "/checkout", "/product/1", "/product/2"]


def _events(rng: random.Random, n: int, start: int) -> list[dict]:
    """Clicks a few hundred ms apart with a pause every 500 (sessions close), 5% up to 1.5 s
    out of order: late for a snippet with `lateness 1s`, within the others' lateness. (A
    sliding window differs on a record later than the lateness for its first windows but not
    its last: docs/flink.md.)"""
    ts, out = start, []
    for i in range(n):
        ts += rng.randrange(50, 400) + (60_000 if i % 500 == 499 else 0)
        late = rng.randrange(1500) if rng.random() < 0.05 else 0
        status = rng.choice([200, 200, 200, 200, 404, 500])
        latency = round(rng.uniform(20, 400), 1)
        out.append({"ts": ts - late, "user": rng.randrange(1, 9), "page": rng.choice(PAGES),
                    "status": status, "latency_ms": latency})  # fmt: skip
    return out


def _write(path: Path, records: list[dict]) -> None:
    import json

    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def _data(folder: Path) -> None:
    rng = random.Random(14)
    start = 1_767_225_600_000
    folder.mkdir()
    for name in ("clicks", "events", "visits", "sessions"):
        _write(folder / f"{name}.jsonl", _events(rng, 3000, start))
    orders = [
        {"ts": start + i * 2000 + rng.randrange(1000), "user": rng.randrange(1, 9),
         "order_id": f"o{i}", "amount": rng.randrange(500, 50_000) / 100}
        for i in range(400)
    ]  # fmt: skip
    _write(folder / "orders.jsonl", orders)
    paid = [o for o in orders if rng.random() < 0.7]
    payments = sorted(
        ({"ts": o["ts"] + rng.randrange(-600_000, 5_400_000), "order": o["order_id"],
          "paid": o["amount"]} for o in paid),
        key=lambda p: p["ts"],
    )  # fmt: skip
    _write(folder / "payments.jsonl", payments)
    rows = ["user,name,country"] + [
        f"{u},user{u},{'' if u % 3 == 0 else 'NL'}" for u in range(1, 8)
    ]
    (folder / "users.csv").write_text("\n".join(rows) + "\n")


def _adapted(text: str) -> str | None:
    """The snippet with its `stdout()` sinks as files and its data files' schemas; None when
    it reads something not generated here."""
    text = re.sub(r"sink (\w+) = stdout\(\)", r'sink \1 = file("out/\1.jsonl")', text)
    needed = set()

    def typed(match: re.Match[str]) -> str:
        name, file = match.group(1), match.group(2)
        needed.add(DATA_SCHEMAS[file])
        return f'source {name}: {DATA_SCHEMAS[file]} = file("data/{file}")'

    for file in re.findall(r'file\("([^"]+)"', text):
        if not file.startswith(("data/", "out/")) or "follow" in text:
            return None
        if file.startswith("data/") and file[5:] not in {*DATA_SCHEMAS, "users.csv"}:
            return None
    text = re.sub(r'source (\w+) = file\("data/([\w.]+)"\)', typed, text)
    declared = set(re.findall(r"^schema (\w+)", text, re.M))
    return "".join(SCHEMAS[s] for s in sorted(needed - declared)) + text


def _runnable(folder: Path) -> list[tuple[str, Path]]:
    found = []
    for i, (where, snippet) in enumerate(rill_snippets()):
        if not any(k in snippet for k in KINDS.values()):
            continue
        text = _adapted(snippet)
        if text is None or "kafka(" in text:  # no connector jar here (docs/flink.md)
            continue
        home = folder / f"s{i}"
        home.mkdir()
        (home / "data").symlink_to(folder / "data")
        (home / "p.rill").write_text(text)
        compiled = compile_file(str(home / "p.rill"))
        if compiled.ok and compiled.plan and not translate(compiled.plan).unmapped:
            found.append((where, home / "p.rill"))
    return found


@pytest.mark.timeout(900)
def test_the_docs_windowed_join_lookup_and_session_snippets_give_the_same_records(
    tmp_path: Path,
) -> None:
    _data(tmp_path / "data")
    snippets = _runnable(tmp_path)
    ran = {kind for kind, marker in KINDS.items() for _, p in snippets if marker in p.read_text()}
    assert ran == set(KINDS), f"kinds no snippet covered: {set(KINDS) - ran}"
    embedded = {}
    for where, pipeline in snippets:
        assert main(["run", "-q", "--fresh", str(pipeline)]) == 0, where
        for sink in (pipeline.parent / "out").glob("*.jsonl"):
            embedded[(where, sink.name)] = _records(sink)
            sink.unlink()
    command = [sys.executable, "-m", "tests.flink._run_jobs", *(str(p) for _, p in snippets)]
    subprocess.run(command, check=True, cwd=REPO)
    for (where, name), records in embedded.items():
        pipeline = next(p for w, p in snippets if w == where)
        flink = _records(pipeline.parent / "out" / name)
        if name in {f"{s}.jsonl" for s in re.findall(r"late into (\w+)", pipeline.read_text())}:
            assert flink == [], f"{where}: {name}"  # Flink SQL drops late records (docs/flink.md)
            continue
        assert records, f"{where}: {name}"
        assert _same(records, flink), f"{where}: {name}"
