"""The pieces `--http` is made of, on their own: reading a request head, writing a response,
the cache that lets a burst of scrapes share one rendering of /metrics, and who is answered."""

from __future__ import annotations

import socket

import pytest

from rillet.runtime.clock import ManualClock
from rillet.runtime.monitor.access import Access
from rillet.runtime.monitor.pages import Cached
from rillet.runtime.monitor.request import BadRequest, Response, parse


def test_a_request_head_is_read_into_method_path_query_and_headers() -> None:
    request = parse(
        b"GET /?token=abc&x=1 HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nauthorization: Bearer abc\r\n\r\n"
    )
    assert (request.method, request.path) == ("GET", "/")
    assert request.query == {"token": ["abc"], "x": ["1"]}
    assert request.headers["Host"] == "127.0.0.1:9100"
    assert request.headers["Authorization"] == "Bearer abc"  # names in any case


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET /\r\n\r\n", 400),
        (b"GET / HTTP/2\r\n\r\n", 400),
        (b"GET http://elsewhere/ HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 101 + b"\r\n", 431),
    ],
)
def test_an_unreadable_head_says_how_to_answer_it(head: bytes, status: int) -> None:
    with pytest.raises(BadRequest) as caught:
        parse(head)
    assert caught.value.status == status


def test_a_response_is_whole_and_closes_the_connection() -> None:
    sent = Response(200, "text/plain", b"hello", [("X-A", "1")]).encode()
    head, _, body = sent.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and body == b"hello"
    assert {
        b"Content-Length: 5",
        b"Connection: close",
        b"Cache-Control: no-store",
        b"X-A: 1",
    } <= set(head.split(b"\r\n"))
    assert Response(200, "text/plain", b"hello").encode(with_body=False).endswith(b"\r\n\r\n")


def test_cached_renders_again_only_once_what_it_has_is_stale() -> None:
    rendered = []

    def render() -> bytes:
        rendered.append(1)
        return str(len(rendered)).encode()

    clock = ManualClock()
    cached = Cached(render, clock, fresh_s=0.5)
    assert [cached() for _ in range(100)] == [b"1"] * 100
    clock.advance(0.4)
    assert cached() == b"1"
    clock.advance(0.1)
    assert [cached(), cached()] == [b"2", b"2"]


def _host(access: Access, host: str) -> int | None:
    refusal = access.refusal(parse(f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()))
    return None if refusal is None else refusal.status


def test_on_loopback_only_loopback_names_and_the_host_given_are_answered() -> None:
    access = Access("dash.internal", "127.0.0.1", 9100)
    for host in (
        "127.0.0.1:9100",
        "127.0.0.2",
        "localhost",
        "localhost.",
        "[::1]:9100",
        "dash.internal:9100",
        "DASH.internal",
    ):
        assert _host(access, host) is None, host
    for host in (
        "rebind.example",
        "rebind.example:9100",
        "10.0.0.5",
        "localhost.example",
        "127.0.0.1.rebind.example",
        "",
        ":9100",
        "[bad",
    ):
        assert _host(access, host) == 421, host


def test_beyond_loopback_any_address_and_this_machines_names_are_answered() -> None:
    access = Access("0.0.0.0", "0.0.0.0", 9100)
    for host in ("10.0.0.5:9100", "[2001:db8::1]:9100", socket.gethostname(), "localhost"):
        assert _host(access, host) is None, host
    assert _host(access, "rebind.example") == 421
