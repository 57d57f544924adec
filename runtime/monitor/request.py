"""The little HTTP that `--http` speaks: one request per connection, read as its head (request
line and headers; a GET has no body), answered with a whole response and `Connection: close`.

Kept to this so the server can read requests itself on its event loop, with its own limits on
size and time, instead of giving each connection a thread. Headers are parsed by the standard
library (`http.client.parse_headers`), as `http.server` does.
"""

from __future__ import annotations

import http.client
import io
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

MAX_HEAD = 16 * 1024
"""Bytes a request head may take (request line and headers); more is answered 431."""


class BadRequest(Exception):
    """A request head that cannot be read; `status` says how to answer it."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message


def parse(head: bytes) -> Request:
    """A request from its head, the bytes up to and with the blank line that ends it."""
    line, _, rest = head.partition(b"\r\n")
    parts = line.decode("iso-8859-1").split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(400, "a request line is METHOD PATH HTTP/1.x")
    method, target, _ = parts
    if not target.startswith("/"):
        raise BadRequest(400, "the path must start with /")
    try:
        headers = http.client.parse_headers(io.BytesIO(rest))
    except http.client.HTTPException as e:
        raise BadRequest(431, f"unreadable headers: {e}") from None
    url = urlsplit(target)
    return Request(method, url.path, parse_qs(url.query), headers)


@dataclass
class Response:
    status: int
    content_type: str
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def text(cls, status: int, text: str, headers: list[tuple[str, str]] | None = None) -> Response:
        return cls(status, "text/plain; charset=utf-8", text.encode() + b"\n", headers or [])

    def encode(self, with_body: bool = True) -> bytes:
        """The response as sent; without its body for HEAD. Nothing is cached by the browser
        (the numbers change), sniffed as another type, or passed on as a Referer."""
        reason = HTTPStatus(self.status).phrase
        lines = [
            f"HTTP/1.1 {self.status} {reason}",
            f"Content-Type: {self.content_type}",
            f"Content-Length: {len(self.body)}",
            "Cache-Control: no-store",
            "X-Content-Type-Options: nosniff",
            "Referrer-Policy: no-referrer",
            "Connection: close",
            *(f"{name}: {value}" for name, value in self.headers),
        ]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("iso-8859-1")
        return head + self.body if with_body else head
