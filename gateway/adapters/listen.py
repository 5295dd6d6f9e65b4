"""A TCP socket bound to a configured address, or an ``OSError`` that names it and the
setting it came from (``stampgate: cannot start: ... the web address 127.0.0.1:8025
(web_listen) cannot be used: Address already in use``)."""

from __future__ import annotations

import socket


def bound(host: str, port: int, name: str, setting: str) -> socket.socket:
    """A TCP socket bound to ``host:port``; the error names it (``SMTP address``) and the
    setting it came from (``--listen``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets it knows are TCP.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"the {name} {host}:{port} ({setting}) cannot be used: "
                                 f"{exc.strerror}") from exc
    return sock
