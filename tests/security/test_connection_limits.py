"""Connection limits per client network and the reserve for trusted networks, over loopback.

Every address of 127.0.0.0/8 is a loopback address on Linux, so a test can connect from many
/24 networks; IPv6 has only ::1, so the /64 grouping of other addresses is tested on the
shared table itself (tests/smtp/test_connections.py).
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.security.support import RawClient, wait_until
from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess


def greeted(port: int, source: str) -> RawClient:
    client = RawClient(port, source=source)
    assert client.reply().startswith("220")
    return client


def refusal(port: int, source: str) -> str:
    with RawClient(port, source=source) as client:
        reply = client.reply()
        assert client.reply() == ""  # and closed
        return reply


@pytest.fixture
def reserve(tmp_path: Path, downstream: Downstream) -> Iterator[GatewayProcess]:
    process = GatewayProcess(tmp_path, downstream.url, config={
        "workers": 1, "session_timeout": 30, "max_connections": 6, "reserved_connections": 2,
        "max_connections_per_ip": 50, "trusted_networks": ["127.0.0.1/32"]}).start()
    yield process
    process.stop()


def test_a_flood_cannot_take_the_trusted_networks_reserve(reserve: GatewayProcess) -> None:
    clients: list[RawClient] = []
    try:
        # A flood from four networks takes the four unreserved connections ...
        clients += [greeted(reserve.port, f"127.0.{20 + n}.1") for n in range(4)]
        reply = refusal(reserve.port, "127.0.30.1")
        assert reply.startswith("421 4.7.0") and "Too many connections; try again" in reply
        # ... and the trusted upstream still gets its two, and mail through them.
        clients += [greeted(reserve.port, "127.0.0.1") for _ in range(2)]
        trusted = clients[-1]
        assert trusted.command(b"EHLO upstream.test\r\n").startswith("250")
        assert trusted.command(b"MAIL FROM:<alice@example.org>\r\n").startswith("250")
        assert refusal(reserve.port, "127.0.0.1").startswith("421 4.7.0")  # the total is 6
    finally:
        refused = reserve.log_events("connection-refused")
        for client in clients:
            client.close()
    # Freed once the gateway has seen them go (a probe just before that is refused too).
    assert wait_until(lambda: _greets(reserve.port, "127.0.30.1"), timeout=5)
    assert [e["limit"] for e in refused] == ["total", "total"]
    assert refused[0]["network"] == "127.0.30.0/24"


def _greets(port: int, source: str) -> bool:
    try:
        with RawClient(port, source=source, timeout=5) as client:
            return client.reply().startswith("220")
    except OSError:
        return False


def _greets_v6(port: int) -> bool:
    with contextlib.suppress(OSError), \
            socket.create_connection(("::1", port), timeout=1) as sock:
        return sock.recv(100).startswith(b"220")
    return False


def test_ipv6_clients_are_limited_per_64(tmp_path: Path, downstream: Downstream) -> None:
    process = GatewayProcess(tmp_path, downstream.url, config={
        "workers": 1, "session_timeout": 30, "max_connections_per_ip": 2,
        "trusted_networks": ["127.0.0.1/32"]})
    process.extra_args = ["--listen", f"[::1]:{process.port}"]
    process.start(wait=False)
    held: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 20
        while not _greets_v6(process.port) and time.monotonic() < deadline:
            time.sleep(0.1)
        for _ in range(2):
            sock = socket.create_connection(("::1", process.port), timeout=5)
            held.append(sock)
            assert sock.recv(100).startswith(b"220")
        with socket.create_connection(("::1", process.port), timeout=5) as extra:
            reply = extra.recv(200).decode()
        assert reply.startswith("421 4.7.0"), reply
        assert "Too many connections from your network (::/64)" in reply
    finally:
        for sock in held:
            sock.close()
        process.stop()
