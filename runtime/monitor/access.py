"""Who may read a run over `--http`: requests must name this server in their `Host` header,
and, when the run has a token, carry it.

**Host.** A web page on another site cannot read a dashboard on loopback directly (the browser
keeps origins apart), but it can point its own host name at 127.0.0.1 (DNS rebinding): the
browser then sends the page's requests to this server as if it were that site, with `Host:`
naming it. So a request is answered only when `Host` names this server: `localhost`, a loopback
address, the address it listens on, or the host given to `--http`. Listening beyond loopback,
any IP address is also accepted (the client typed it; a rebinding page always has a name), as
are this machine's own names. Any other name is answered 421.

**Token.** With `RILLET_HTTP_TOKEN` (or `--http-token`), every request must carry
`Authorization: Bearer TOKEN`, compared in constant time, or is answered 401. A browser cannot
add that header to a page it opens, so the dashboard also takes the token once in its address,
`/?token=TOKEN` (or from the form a 401 on `/` shows), and answers with a cookie and a redirect
to `/`; the cookie then stands for the token. It holds an HMAC of the token rather than the
token, since cookies are sent to every port of the host, and its name carries the port, so two
runs on one machine do not overwrite each other's.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

from .request import Request, Response


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def is_loopback(address: str) -> bool:
    ip = _ip(address)
    return ip is not None and ip.is_loopback


def _name(host: str) -> str | None:
    """The name in a `Host` header (`name:port`, `[v6]:port`), lower case, without a port."""
    try:
        name = urlsplit("//" + host).hostname
    except ValueError:
        return None
    return name.rstrip(".") if name else None


DASHBOARD = ("/", "/index.html")

LOGIN = b"""<!doctype html>
<html lang="en"><meta charset="utf-8"><title>rillet</title>
<body style="font: 15px system-ui, sans-serif; margin: 3em">
<form method="get" action="./">
<p>This run serves its dashboard to those who have its token
(<code>RILLET_HTTP_TOKEN</code> or <code>--http-token</code>).</p>
<label>Token <input type="password" name="token" autofocus></label>
<button>Open the dashboard</button>
</form>
"""


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


class Access:
    """`host` as given to `--http`; `bound` the address listened on, `port` the port; `token`
    the one requests must carry, if any."""

    def __init__(self, host: str, bound: str, port: int, token: str | None = None) -> None:
        self.network = not is_loopback(bound)
        self.names = {"localhost", host.lower().rstrip("."), bound}
        if self.network:
            self.names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
        self.token = token
        self.cookie = f"rillet_{port}"
        self.session = (
            ""
            if token is None
            else hmac.new(token.encode(), b"rillet dashboard", hashlib.sha256).hexdigest()
        )

    def names_this_server(self, name: str) -> bool:
        if name in self.names:
            return True
        ip = _ip(name)
        return ip is not None and (ip.is_loopback or self.network)

    def refusal(self, request: Request) -> Response | None:
        """The answer to a request that may not be answered; None for one that may."""
        host = request.headers.get("Host")
        if host is None:
            return Response.text(400, "rillet: a request needs a Host header")
        name = _name(host)
        if name is None or not self.names_this_server(name):
            return Response.text(
                421,
                f"rillet: this server does not answer for `{host}`; use the address rillet printed",
            )
        if self.token is None or self._carries_token(request):
            return None
        given = request.query.get("token", [""])[-1]
        if request.path in DASHBOARD and given and _same(given, self.token):
            return Response.text(
                303,
                "rillet: to the dashboard",
                [
                    ("Location", "./"),
                    ("Set-Cookie", f"{self.cookie}={self.session}; Path=/; HttpOnly; SameSite=Lax"),
                ],
            )
        challenge = [("WWW-Authenticate", 'Bearer realm="rillet"')]
        if request.path in DASHBOARD:
            return Response(401, "text/html; charset=utf-8", LOGIN, challenge)
        return Response.text(
            401,
            "rillet: this run's HTTP needs its token: send `Authorization: Bearer TOKEN`",
            challenge,
        )

    def _carries_token(self, request: Request) -> bool:
        assert self.token is not None
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and _same(given.strip(), self.token):
            return True
        for header in request.headers.get_all("Cookie", []):
            try:
                morsel = SimpleCookie(header).get(self.cookie)
            except CookieError:
                continue
            if morsel is not None and _same(morsel.value, self.session):
                return True
        return False
