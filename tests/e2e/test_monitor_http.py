"""`rillet run --http` under strain and in the open: the address it serves is always printed,
bursts of scrapes are all answered, clients that hang up early or send nothing leave no
traceback and no thread behind, requests for a foreign `Host` are refused, and with a token
only requests that carry it are answered. Counts of failures, never timings."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from tests.conftest import rillet
from tests.runtime.monitor.load import crowd, hang_up_early, silent
from tests.runtime.monitor.running import Running, eventually

ENDLESS = """\
set batch_timeout = 100ms
source clicks = generate(rate=2000)
sink   out    = file("out/out.jsonl")
clicks | where status == 200 | into out
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "endless.rill").write_text(ENDLESS)
    return tmp_path


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_quiet_still_prints_the_address_served(folder: Path, log_format: str) -> None:
    with Running(folder, "-q", "endless.rill", "--http", ":0", "--log-format", log_format) as run:
        assert run.get("/healthz")[0] == 200
        assert run.stop() == 130
    served = [line for line in run.lines if "serving http://127.0.0.1:" in line]
    assert len(served) == 1
    if log_format == "json":
        record = json.loads(served[0])
        assert record["level"] == "info" and record["fields"]["url"] == run.url
    else:
        assert served[0] == f"rillet: serving {run.url}"


def test_a_burst_of_scrapes_is_answered_in_full(folder: Path) -> None:
    with Running(folder, "endless.rill", "--http", ":0") as run:
        with crowd(run.url, clients=500) as tally:
            time.sleep(3)  # the burst's length: what is asserted is that none failed
        assert tally.ok >= 500
        assert tally.failures == 0, tally.failed
        assert run.stop() == 130
    assert not [line for line in run.lines if "Traceback" in line]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_clients_that_hang_up_early_leave_no_traceback(folder: Path, log_format: str) -> None:
    (folder / "bounded.rill").write_text(
        ENDLESS.replace("rate=2000", "count=20000, rate=4000")
    )  # five seconds
    with Running(folder, "-q", "bounded.rill", "--http", ":0", "--log-format", log_format) as run:
        for path in ("/metrics", "/", "/api/status"):
            hang_up_early(run.url, 100, path)
        with silent(run.url, 20):
            assert run.get("/healthz")[0] == 200
        assert run.stop_by_itself() == 0
    assert run.lines
    for line in run.lines:
        assert "Traceback" not in line
        if log_format == "json":
            json.loads(line)
        else:
            assert line.startswith("rillet: ")


def _closed(connection: socket.socket) -> bool:
    connection.setblocking(False)
    try:
        return connection.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def test_clients_that_send_nothing_are_let_go(folder: Path) -> None:
    with Running(folder, "endless.rill", "--http", ":0") as run:
        with silent(run.url, 100) as held:
            assert run.get("/metrics")[0] == 200  # answered while they hang on
            eventually(lambda: all(map(_closed, held)), "the server closing them")
        assert run.stop() == 130


def _raw(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(request)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return answer


def test_requests_that_are_not_a_get_are_refused_in_one_line(folder: Path) -> None:
    with Running(folder, "endless.rill", "--http", ":0") as run:
        assert _raw(run.url, b"POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").startswith(
            b"HTTP/1.1 405 "
        )
        assert _raw(run.url, b"nonsense\r\n\r\n").startswith(b"HTTP/1.1 400 ")
        assert _raw(run.url, b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 5000).startswith(
            b"HTTP/1.1 431 "
        )
        head = _raw(run.url, b"HEAD /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ") and head.endswith(b"\r\n\r\n")
        assert run.stop() == 130
    assert not [line for line in run.lines if "Traceback" in line]


def _status(url: str, path: str, *headers: str) -> int:
    lines = [f"GET {path} HTTP/1.1", *headers, "Connection: close"]
    answer = _raw(url, ("\r\n".join(lines) + "\r\n\r\n").encode())
    return int(answer.split(b" ", 2)[1])


def test_a_foreign_host_name_is_refused(folder: Path) -> None:
    """A page of another site that points its name at 127.0.0.1 (DNS rebinding) reaches the
    server, but its requests name that site in `Host`."""
    with Running(folder, "endless.rill", "--http", ":0") as run:
        port = run.url.rstrip("/").rsplit(":", 1)[1]
        assert _status(run.url, "/api/status", f"Host: rebind.example:{port}") == 421
        assert _status(run.url, "/metrics", "Host: 10.1.2.3") == 421  # not this server
        assert _status(run.url, "/metrics") == 400
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "LOCALHOST", "[::1]:1"):
            assert _status(run.url, "/api/status", f"Host: {host}") == 200, host
        assert run.stop() == 130


def test_listening_beyond_loopback_accepts_addresses_but_not_foreign_names(folder: Path) -> None:
    with Running(folder, "endless.rill", "--http", "0.0.0.0:0") as run:
        assert _status(run.url, "/metrics", "Host: 10.1.2.3:9100") == 200
        assert _status(run.url, "/metrics", f"Host: {socket.gethostname()}") == 200
        assert _status(run.url, "/metrics", "Host: rebind.example") == 421
        assert run.stop() == 130


TOKEN = "s3cret-Token_42"


def _answer(url: str, path: str, *headers: str) -> tuple[int, dict[str, str], bytes]:
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {url.removeprefix('http://').rstrip('/')}",
        *headers,
        "Connection: close",
    ]
    head, _, body = _raw(url, ("\r\n".join(lines) + "\r\n\r\n").encode()).partition(b"\r\n\r\n")
    status, *fields = head.decode().split("\r\n")
    return (
        int(status.split()[1]),
        {name.lower(): value for name, _, value in (f.partition(": ") for f in fields)},
        body,
    )


def test_with_a_token_only_requests_that_carry_it_are_answered(folder: Path) -> None:
    with Running(folder, "endless.rill", "--http", ":0", env={"RILLET_HTTP_TOKEN": TOKEN}) as run:
        bearer = f"Authorization: Bearer {TOKEN}"
        for path in ("/metrics", "/healthz", "/api/status", "/nope"):
            status, headers, _ = _answer(run.url, path)
            assert status == 401 and headers["www-authenticate"].startswith("Bearer"), path
        assert _answer(run.url, "/metrics", "Authorization: Bearer wrong")[0] == 401
        assert _answer(run.url, "/metrics", f"Authorization: Basic {TOKEN}")[0] == 401
        assert _answer(run.url, f"/metrics?token={TOKEN}")[0] == 401  # the dashboard's only
        for path in ("/metrics", "/healthz", "/api/status", "/"):
            assert _answer(run.url, path, bearer)[0] == 200, path
        assert _answer(run.url, "/metrics", f"authorization: bearer {TOKEN}")[0] == 200

        status, headers, body = _answer(run.url, "/")  # a browser without the token
        assert status == 401 and b'<input type="password" name="token"' in body
        assert _answer(run.url, "/?token=wrong")[0] == 401
        status, headers, _ = _answer(run.url, f"/?token={TOKEN}")
        assert status == 303 and headers["location"] == "./"
        cookie = headers["set-cookie"].split(";")[0]
        assert TOKEN not in cookie and "HttpOnly" in headers["set-cookie"]
        for path in ("/", "/api/status", "/metrics"):
            assert _answer(run.url, path, f"Cookie: other=1; {cookie}")[0] == 200, path
        name, _, value = cookie.partition("=")
        assert _answer(run.url, "/api/status", f"Cookie: {name}={value[:-1]}0")[0] == 401
        assert run.stop() == 130
    assert TOKEN not in "\n".join(run.lines)


def test_the_token_may_be_given_on_the_command_line(folder: Path) -> None:
    with Running(folder, "endless.rill", "--http", ":0", "--http-token", TOKEN) as run:
        assert _answer(run.url, "/metrics")[0] == 401
        assert _answer(run.url, "/metrics", f"Authorization: Bearer {TOKEN}")[0] == 200
        assert run.stop() == 130


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--http-token", TOKEN], {}, "--http-token needs --http"),
        (["--http", ":0", "--http-token", "two words"], {}, "--http-token: a token is one or more"),
        (["--http", ":0"], {"RILLET_HTTP_TOKEN": ""}, "RILLET_HTTP_TOKEN: a token is one or more"),
        (
            ["--http", ":0"],
            {"RILLET_HTTP_TOKEN": "tök"},
            "RILLET_HTTP_TOKEN: a token is one or more",
        ),
    ],
)
def test_a_token_that_cannot_be_used_is_a_usage_error(
    folder: Path,
    args: list[str],
    env: dict[str, str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # the environment `rillet` is run with
    result = rillet("run", "endless.rill", *args, cwd=folder)
    assert result.returncode == 2
    assert message in result.stderr.decode()
    assert b"Traceback" not in result.stderr


def test_listening_beyond_loopback_without_a_token_warns(folder: Path) -> None:
    with Running(folder, "endless.rill", "--http", "0.0.0.0:0") as run:
        run.wait_line(
            r"^rillet: warning: http://0\.0\.0\.0:\d+/ is reachable beyond this "
            r"machine.*RILLET_HTTP_TOKEN"
        )
        assert run.stop() == 130
    for args, env in [
        (["--http", "0.0.0.0:0"], {"RILLET_HTTP_TOKEN": TOKEN}),
        (["--http", "127.0.0.1:0"], {}),
    ]:
        with Running(folder, "endless.rill", *args, env=env) as run:
            assert run.url
            assert run.stop() == 130
        assert not [line for line in run.lines if "warning" in line], args
