"""Who may read a run over `--http`: requests must name this server in their `Host` header.

A web page on another site cannot read a dashboard on loopback directly (the browser keeps
origins apart), but it can point its own host name at 127.0.0.1 (DNS rebinding): the browser
then sends the page's requests to this server as if it were that site, with `Host:` naming it.
So a request is answered only when `Host` names this server: `localhost`, a loopback address,
the address it listens on, or the host given to `--http`. Listening beyond loopback, any IP
address is also accepted (the client typed it; a rebinding page always has a name), as are this
machine's own names. Any other name is answered 421.
"""

from __future__ import annotations

import ipaddress
import socket
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


class Access:
    """`host` as given to `--http`; `bound` the address listened on."""

    def __init__(self, host: str, bound: str) -> None:
        self.network = not is_loopback(bound)
        self.names = {"localhost", host.lower().rstrip("."), bound}
        if self.network:
            self.names |= {socket.gethostname().lower(), socket.getfqdn().lower()}

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
            return Response.text(421, f"rillet: this server does not answer for `{host}`; "
                                      "use the address rillet printed")
        return None
