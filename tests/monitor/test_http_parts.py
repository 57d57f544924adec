"""The pieces `--http` is made of, on their own: reading a request head, writing a response,
and the cache that lets a burst of scrapes share one rendering of /metrics."""

from __future__ import annotations

import pytest

from rillet.monitor.pages import Cached
from rillet.monitor.request import BadRequest, Response, parse


def test_a_request_head_is_read_into_method_path_query_and_headers() -> None:
    request = parse(b"GET /?token=abc&x=1 HTTP/1.1\r\nHost: 127.0.0.1:9100\r\n"
                    b"authorization: Bearer abc\r\n\r\n")
    assert (request.method, request.path) == ("GET", "/")
    assert request.query == {"token": ["abc"], "x": ["1"]}
    assert request.headers["Host"] == "127.0.0.1:9100"
    assert request.headers["Authorization"] == "Bearer abc"  # names in any case


@pytest.mark.parametrize(("head", "status"), [
    (b"GET /\r\n\r\n", 400),
    (b"GET / HTTP/2\r\n\r\n", 400),
    (b"GET http://elsewhere/ HTTP/1.1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 101 + b"\r\n", 431),
])
def test_an_unreadable_head_says_how_to_answer_it(head: bytes, status: int) -> None:
    with pytest.raises(BadRequest) as caught:
        parse(head)
    assert caught.value.status == status


def test_a_response_is_whole_and_closes_the_connection() -> None:
    sent = Response(200, "text/plain", b"hello", [("X-A", "1")]).encode()
    head, _, body = sent.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and body == b"hello"
    assert {b"Content-Length: 5", b"Connection: close", b"Cache-Control: no-store",
            b"X-A: 1"} <= set(head.split(b"\r\n"))
    assert Response(200, "text/plain", b"hello").encode(with_body=False).endswith(b"\r\n\r\n")


def test_cached_renders_again_only_once_what_it_has_is_stale() -> None:
    rendered = []

    def render() -> bytes:
        rendered.append(1)
        return str(len(rendered)).encode()

    fresh = Cached(render, fresh_s=3600)
    assert [fresh() for _ in range(100)] == [b"1"] * 100
    stale = Cached(render, fresh_s=0)
    assert [stale(), stale()] == [b"2", b"3"]
