"""The `postgres` and `sqlite` connectors through the real `rillet` command and the real test
server (tests/servers.py): windowed per-user aggregates upserted (and appended) into both
databases by a run SIGKILLed at random moments and resumed equal those of an uninterrupted run,
with nothing left staged; lookups from both kinds of table; a server that is down at the start is
one clear line and exit code 1; PostgreSQL stopped mid-run and started again changes nothing in
the result; connector arguments are checked by `rillet check`."""

from __future__ import annotations

import json
import random
import shutil
import socket
import sqlite3
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from rillet.stdlib.generate import START_MS, click_events
from tests.conftest import rillet
from tests.e2e.test_crash import rillet_command, run_to_completion, run_with_kills
from tests.servers import POSTGRES, ensure, stop

URL = POSTGRES.url
KILLS = 6

SCHEMA = """schema Click {
  ts: int
  user: int
  page: str
  status: int
  latency_ms: float
}
"""

AGGREGATES = (
    "set batch_size = 200\nset checkpoint_interval = 50ms\n"
    + SCHEMA
    + 'source clicks: Click = file("data/clicks.jsonl")\n'
    'sink pg = postgres("{url}", "{prefix}_per_user", key="user")\n'
    'sink pg_all = postgres("{url}", "{prefix}_windows")\n'
    'sink lite = sqlite("out/db.sqlite", "per_user", key="user")\n'
    'sink lite_all = sqlite("out/db.sqlite", "windows")\n'
    "stream features = clicks | event_time ts lateness 2s | window tumbling 1s\n"
    "  | aggregate by user { n = count(), total = sum(latency_ms), last_page = last(page) }\n"
    "features | into pg\nfeatures | into pg_all\nfeatures | into lite\nfeatures | into lite_all\n"
)


def postgres_rows(table: str) -> list[tuple]:
    with psycopg.connect(URL) as conn:
        return sorted(conn.execute(f"SELECT * FROM {table}").fetchall())


def sqlite_rows(path: Path, table: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        rows = sorted(conn.execute(f"SELECT * FROM {table}").fetchall())
    conn.close()
    return rows


def postgres_staged(prefix: str) -> int:
    with psycopg.connect(URL) as conn:
        return conn.execute(
            "SELECT count(*) FROM _rillet_staged s JOIN _rillet_commits c ON "
            "c.id = s.sink_id WHERE c.target LIKE %s",
            [prefix + "%"],
        ).fetchone()[0]


def sqlite_staged(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        count = conn.execute("SELECT count(*) FROM _rillet_staged").fetchone()[0]
    conn.close()
    return count


@pytest.fixture
def prefix() -> Iterator[str]:
    """A prefix for this test's PostgreSQL tables; they are dropped at the end."""
    ensure(POSTGRES)
    name = f"e{uuid.uuid4().hex[:10]}"
    yield name
    ensure(POSTGRES)
    with psycopg.connect(URL, autocommit=True) as conn:
        for (table,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE tablename LIKE %s", [name + "%"]
        ).fetchall():
            conn.execute(f"DROP TABLE {table}")
        if conn.execute("SELECT to_regclass('_rillet_commits')").fetchone()[0]:
            conn.execute(
                "DELETE FROM _rillet_staged WHERE sink_id IN (SELECT id FROM "
                "_rillet_commits WHERE target LIKE %s)",
                [name + "%"],
            )
            conn.execute("DELETE FROM _rillet_commits WHERE target LIKE %s", [name + "%"])


def write_clicks(folder: Path, count: int) -> None:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    events = click_events(random.Random(7), 0, count, START_MS, 1.0)
    (folder / "data" / "clicks.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))


@pytest.mark.timeout(600)
def test_killed_runs_resume_to_the_tables_of_an_uninterrupted_run(
    prefix: str, tmp_path: Path
) -> None:
    folders = {}
    for kind in ("reference", "crashed"):
        folder = folders[kind] = tmp_path / kind
        folder.mkdir()
        if kind == "reference":
            write_clicks(folder, 200_000)
        else:
            shutil.copytree(folders["reference"] / "data", folder / "data")
        (folder / "p.rill").write_text(
            AGGREGATES.replace("{url}", URL).replace("{prefix}", f"{prefix}_{kind}")
        )
    run_to_completion(folders["reference"])
    kills = run_with_kills(folders["crashed"], random.Random(11), KILLS)
    assert kills >= 4
    for table in ("per_user", "windows"):
        want = postgres_rows(f"{prefix}_reference_{table}")
        assert want, table
        assert postgres_rows(f"{prefix}_crashed_{table}") == want, table
        lite = sqlite_rows(folders["crashed"] / "out" / "db.sqlite", table)
        assert lite == sqlite_rows(folders["reference"] / "out" / "db.sqlite", table), table
        assert lite == want, table  # the same rows in both databases
    per_user = postgres_rows(f"{prefix}_reference_per_user")
    assert len({r[2] for r in per_user}) == len(per_user)  # one row per user (third column)
    assert postgres_staged(prefix) == 0
    assert sqlite_staged(folders["crashed"] / "out" / "db.sqlite") == 0


def test_lookup_from_postgres_and_sqlite_tables(prefix: str, tmp_path: Path) -> None:
    people = [(1, "ada", "uk"), (2, "linus", "fi"), (3, "grace", "us")]
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {prefix}_users (id BIGINT PRIMARY KEY, name TEXT, country TEXT)"
        )
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {prefix}_users VALUES (%s, %s, %s)", people)
    (tmp_path / "data").mkdir()
    with sqlite3.connect(tmp_path / "data" / "users.sqlite") as lite:
        lite.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, country TEXT)")
        lite.executemany("INSERT INTO users VALUES (?, ?, ?)", people)
    lite.close()
    clicks = [{"user": u, "page": f"/p{u}"} for u in (1, 2, 4, 3, 1)]
    (tmp_path / "data" / "clicks.jsonl").write_text("".join(json.dumps(c) + "\n" for c in clicks))
    (tmp_path / "p.rill").write_text(
        'source clicks = file("data/clicks.jsonl")\n'
        f'table pg_users = postgres("{URL}", "{prefix}_users", key="id")\n'
        'table lite_users = sqlite("data/users.sqlite", "users", key="id")\n'
        'sink from_pg = file("out/pg.jsonl")\nsink from_lite = file("out/lite.jsonl")\n'
        "clicks | lookup pg_users on user | into from_pg\n"
        "clicks | lookup lite_users on user | into from_lite\n"
    )
    result = rillet("run", "-q", "p.rill", cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    names = {u: (n, c) for u, n, c in people}
    want = [
        {
            **c,
            "name": names.get(c["user"], (None, None))[0],
            "country": names.get(c["user"], (None, None))[1],
        }
        for c in clicks
    ]
    for output in ("pg.jsonl", "lite.jsonl"):
        lines = (tmp_path / "out" / output).read_text().splitlines()
        assert [json.loads(line) for line in lines] == want, output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "declaration", ['sink out = postgres("{url}", "t")', 'table users = postgres("{url}", "t")']
)
def test_server_down_at_start_is_one_line_and_exit_1(tmp_path: Path, declaration: str) -> None:
    url = f"postgresql://rillet:s3cret@127.0.0.1:{free_port()}/rillet"
    (tmp_path / "in.jsonl").write_text('{"user": 1}\n')
    flow = (
        "s | into out\n"
        if declaration.startswith("sink")
        else 'sink out = file("out.jsonl")\ns | lookup users on user | into out\n'
    )
    (tmp_path / "p.rill").write_text(
        'source s = file("in.jsonl")\n' + declaration.format(url=url) + "\n" + flow
    )
    result = rillet("run", "-q", "p.rill", cwd=tmp_path)
    assert result.returncode == 1
    stderr = result.stderr.decode()
    assert stderr.count("\n") == 1 and "Traceback" not in stderr and "s3cret" not in stderr
    what = "sink `out`" if declaration.startswith("sink") else "table `users`"
    shown = url.replace(":s3cret", "")
    assert stderr.startswith(
        f"rillet: error: {what}: cannot connect to {shown}: connection "
        "refused (is the server running"
    ), stderr


@pytest.mark.timeout(300)
def test_postgres_stopped_mid_run_and_started_again_loses_and_doubles_nothing(
    prefix: str, tmp_path: Path
) -> None:
    """The run is paced (`rate`) so that it is still going when the server stops; its file sink,
    written from the same stream, is the reference."""
    (tmp_path / "p.rill").write_text(
        "set checkpoint_interval = 100ms\n"
        + SCHEMA
        + f"source clicks: Click = generate(count=30000, rate=10000, start_ms={START_MS}, "
        "seed=3)\n"
        f'sink pg = postgres("{URL}", "{prefix}_per_user", key="user")\n'
        f'sink pg_all = postgres("{URL}", "{prefix}_windows")\n'
        'sink reference = file("out/windows.jsonl")\n'
        "stream features = clicks | event_time ts lateness 2s | window tumbling 1s\n"
        "  | aggregate by user { n = count(), total = sum(latency_ms) }\n"
        "features | into pg\nfeatures | into pg_all\nfeatures | into reference\n"
    )
    process = subprocess.Popen(
        rillet_command("p.rill"), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for_first_commit(prefix)
        stop(POSTGRES)
        threading.Event().wait(1.5)  # a few retries go by while the server is away
        ensure(POSTGRES)
        _, stderr = process.communicate(timeout=240)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr.decode()
    assert b"retrying for up to 60 s" in stderr  # the sinks did see the server go away
    windows = [
        json.loads(line) for line in (tmp_path / "out" / "windows.jsonl").read_text().splitlines()
    ]
    latest = {w["user"]: w for w in windows}
    assert postgres_rows(f"{prefix}_windows") == sorted(tuple(w.values()) for w in windows)
    assert postgres_rows(f"{prefix}_per_user") == sorted(tuple(w.values()) for w in latest.values())
    assert postgres_staged(prefix) == 0


def wait_for_first_commit(prefix: str) -> None:
    """Until a sink of the run has committed once: rows are flowing."""
    while True:
        with psycopg.connect(URL) as conn:
            if (
                conn.execute("SELECT to_regclass('_rillet_commits')").fetchone()[0]
                and conn.execute(
                    "SELECT count(*) FROM _rillet_commits WHERE target LIKE %s AND epoch > 0",
                    [prefix + "%"],
                ).fetchone()[0]
            ):
                return
        threading.Event().wait(0.05)


def test_connector_arguments_are_checked(tmp_path: Path) -> None:
    (tmp_path / "p.rill").write_text(
        'source s = file("in.jsonl")\n'
        'sink a = postgres("postgresql://x")\n'
        'sink b = sqlite("db.sqlite", "t", retry_timeout="soon")\n'
        'sink c = sqlite("db.sqlite", "t", keys="id")\n'
        "s | into a\ns | into b\ns | into c\n"
    )
    result = rillet("check", "p.rill", cwd=tmp_path)
    assert result.returncode == 2
    stderr = result.stderr.decode()
    assert "`postgres` needs argument `table`" in stderr
    assert "invalid argument `retry_timeout` for `sqlite`" in stderr
    assert "unknown argument `keys` for `sqlite`" in stderr and "did you mean `key`?" in stderr
    (tmp_path / "in.jsonl").write_text("")  # `rillet check` looks for the inputs too
    (tmp_path / "ok.rill").write_text(
        'source s = file("in.jsonl")\n'
        'table users = postgres("postgresql://x", "users")\n'
        'sink a = postgres("postgresql://x", "t", key="id", retry_timeout=30s)\n'
        'sink b = sqlite("db.sqlite", "t", retry_timeout=500ms)\n'
        "s | lookup users on id | into a\ns | into b\n"
    )
    checked = rillet("check", "ok.rill", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr.decode()
