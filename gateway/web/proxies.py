"""The client's real address: forwarding headers are believed only from configured proxies.

Anyone can write ``X-Forwarded-For``; only a proxy the admin named (``web_trusted_proxies``)
appends to it honestly. The chain is read from the right: every hop that is a trusted proxy
is skipped, and the first one that is not is the client. A hop that cannot be read ends the
walk at the last address known to be true.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str) -> Address | None:
    """``192.0.2.1``, ``192.0.2.1:8080``, ``[2001:db8::1]:443`` or ``2001:db8::1``."""
    value = text.strip().strip('"').strip()
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        address = ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _forwarded(values: Iterable[str]) -> tuple[list[str], str | None]:
    """RFC 7239 ``Forwarded``: the ``for=`` of each element, and the last ``proto=``."""
    hops: list[str] = []
    proto: str | None = None
    for value in values:
        for element in value.split(","):
            found = ""
            for pair in element.split(";"):
                name, _, given = pair.partition("=")
                name = name.strip().lower()
                if name == "for":
                    found = given
                elif name == "proto":
                    proto = given.strip().strip('"').lower()
            hops.append(found)
    return hops, proto


def real_client(peer: str, headers: Sequence[tuple[bytes, bytes]],
                proxies: Sequence[Network]) -> tuple[str, str | None]:
    """The client's address and, when a trusted proxy said so, the scheme it used."""
    current = parse_address(peer)
    if current is None or not any(current in net for net in proxies):
        return peer, None
    named: dict[str, list[str]] = {}
    for raw_name, raw_value in headers:
        named.setdefault(raw_name.decode("latin-1").lower(), []).append(
            raw_value.decode("latin-1"))
    if "forwarded" in named:
        hops, proto = _forwarded(named["forwarded"])
    else:
        hops = [h for v in named.get("x-forwarded-for", []) for h in v.split(",")]
        protos = [p.strip().lower() for v in named.get("x-forwarded-proto", [])
                  for p in v.split(",")]
        proto = protos[-1] if protos else None
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            break  # unreadable (or "unknown"): nothing to its left can be believed
        current = address
        if not any(address in net for net in proxies):
            break
    return str(current), proto if proto in ("http", "https") else None


class TrustedProxies:
    """ASGI middleware: the request's client (and scheme) as ``real_client`` reads them."""

    def __init__(self, app: ASGIApp, proxies: Sequence[Network]) -> None:
        self.app = app
        self.proxies = tuple(proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.proxies:
            client = scope.get("client")
            if client:
                host, scheme = real_client(str(client[0]), scope["headers"], self.proxies)
                scope["client"] = (host, 0 if host != client[0] else client[1])
                if scheme is not None:
                    scope["scheme"] = scheme
        await self.app(scope, receive, send)
