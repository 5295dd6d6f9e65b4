"""Protocol abuse over raw sockets: pipelining, command limits, slow clients, connection limits."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.security.support import RawClient, wait_until
from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess

TIMEOUT = 1.5


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory,
            downstream: Downstream) -> Iterator[GatewayProcess]:
    workdir: Path = tmp_path_factory.mktemp("abuse")
    process = GatewayProcess(workdir, downstream.url, config={
        "workers": 1, "session_timeout": TIMEOUT, "max_connections_per_ip": 3,
        "max_messages_per_connection": 2,
        "trusted_networks": ["127.0.0.1/32", "127.0.0.7/32"],
    }).start()
    yield process
    process.stop()


def greeted(gateway: GatewayProcess, source: str = "127.0.0.1") -> RawClient:
    client = RawClient(gateway.port, source=source)
    assert client.reply().startswith("220")
    return client


def test_whole_session_in_one_write_is_one_checked_message(gateway: GatewayProcess,
                                                          downstream: Downstream) -> None:
    with greeted(gateway) as client:
        client.send(b"EHLO client.test\r\nMAIL FROM:<alice@example.org>\r\n"
                    b"RCPT TO:<bob@example.org>\r\nRCPT TO:<press@example.org>\r\nDATA\r\n"
                    b"Subject: x\r\n\r\nInternal\r\nbody\r\n.\r\nQUIT\r\n")
        replies = client.rest()
    codes = [r[:3] for r in replies]
    assert codes == ["250", "250", "250", "250", "354", "550", "221"], replies
    assert downstream.messages == []


def test_body_pipelined_after_a_refused_data_is_not_a_message(gateway: GatewayProcess,
                                                             downstream: Downstream) -> None:
    """RCPT refused, DATA refused: the pipelined body is read as (bogus) commands, then cut."""
    with greeted(gateway) as client:
        client.send(b"EHLO client.test\r\nMAIL FROM:<alice@example.org>\r\n"
                    b"RCPT TO:<bob%outside.test@example.org>\r\nDATA\r\n"
                    b"Subject: x\r\nFrom: a\r\nTo: b\r\nX-A: 1\r\nX-B: 2\r\nX-C: 3\r\n\r\n"
                    b"body\r\n.\r\n")
        replies = client.rest()
    codes = [r[:3] for r in replies]
    assert codes[:4] == ["250", "250", "553", "503"], replies
    assert replies[-1].startswith("502 5.5.1 Too many unrecognized commands"), replies
    assert downstream.messages == []


def test_untrusted_client_pipelining_gets_nothing_through(gateway: GatewayProcess,
                                                         downstream: Downstream) -> None:
    with greeted(gateway, source="127.0.0.2") as client:
        client.send(b"EHLO client.test\r\nMAIL FROM:<alice@example.org>\r\n"
                    b"RCPT TO:<bob@example.org>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\n"
                    b"QUIT\r\n")
        replies = client.rest()
    codes = [r[:3] for r in replies]
    assert codes[:4] == ["250", "554", "503", "503"], replies
    assert "554 5.7.1 Relay access denied" in replies[1]
    assert downstream.messages == []


def test_command_budget_per_connection(gateway: GatewayProcess) -> None:
    with greeted(gateway) as client:
        client.command(b"EHLO client.test\r\n")
        for _ in range(20):
            assert client.command(b"NOOP\r\n").startswith("250")
        assert client.command(b"NOOP\r\n").startswith("421 4.7.0 NOOP sent too many times")
        assert client.reply() == ""  # closed


def test_auth_attempts_per_connection_are_limited(gateway: GatewayProcess) -> None:
    with greeted(gateway) as client:
        client.command(b"EHLO client.test\r\n")
        for _ in range(3):
            assert client.command(b"AUTH PLAIN AGFAYg==\r\n").startswith("538")
        assert client.command(b"AUTH PLAIN AGFAYg==\r\n").startswith("421 4.7.0")


def test_messages_per_connection_are_limited(gateway: GatewayProcess,
                                             downstream: Downstream) -> None:
    def one(n: int) -> bytes:  # each its own message (the same one twice is a retry)
        return (b"MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n"
                b"Subject: x\r\nMessage-ID: <limit-%d@client.test>\r\n\r\n"
                b"Internal\r\nbody\r\n.\r\n" % n)

    with greeted(gateway) as client:
        client.command(b"EHLO client.test\r\n")
        client.send(one(1) + one(2) + one(3))
        replies = client.rest()
    assert [r[:3] for r in replies] == ["250", "250", "354", "250"] * 2 + ["421"], replies
    assert len(downstream.wait_for(2)) == 2


def test_overlong_command_line_is_refused(gateway: GatewayProcess) -> None:
    with greeted(gateway) as client:
        reply = client.command(b"EHLO " + b"a" * 5000 + b"\r\n")
        assert reply.startswith("500"), reply
        assert client.command(b"NOOP\r\n").startswith("250")


def test_idle_client_is_cut_off_with_421(gateway: GatewayProcess) -> None:
    with greeted(gateway, source="127.0.0.5") as client:
        started = time.monotonic()
        reply = client.reply()
        assert reply.startswith("421 4.4.2"), reply
        assert client.reply() == ""
        assert time.monotonic() - started < TIMEOUT + 2


def test_slow_drip_command_cannot_hold_the_connection(gateway: GatewayProcess) -> None:
    with greeted(gateway, source="127.0.0.6") as client:
        started = time.monotonic()
        with pytest.raises(OSError):  # the drip ends when the server hangs up
            for byte in b"EHLO client.test" * 10:
                client.send(bytes([byte]))
                time.sleep(0.1)
        assert time.monotonic() - started < TIMEOUT + 2


def test_slow_drip_data_cannot_hold_the_connection(gateway: GatewayProcess,
                                                   downstream: Downstream) -> None:
    with greeted(gateway, source="127.0.0.7") as client:
        client.command(b"EHLO client.test\r\n")
        client.command(b"MAIL FROM:<alice@example.org>\r\n")
        client.command(b"RCPT TO:<bob@example.org>\r\n")
        assert client.command(b"DATA\r\n").startswith("354")
        started = time.monotonic()
        with pytest.raises(OSError):
            for _ in range(100):
                client.send(b"x\r\n")
                time.sleep(0.1)
        assert time.monotonic() - started < TIMEOUT + 2
    assert downstream.messages == []


def test_connections_per_network_are_limited(gateway: GatewayProcess) -> None:
    source = "127.0.8.8"
    # Three addresses of one /24 (connection_prefix_v4) are one client network.
    held = [greeted(gateway, source=f"127.0.8.{n}") for n in (1, 2, 8)]
    try:
        with RawClient(gateway.port, source=source) as extra:
            reply = extra.reply()
            assert reply.startswith("421 4.7.0"), reply
            assert "Too many connections from your network (127.0.8.0/24)" in reply
            assert extra.reply() == ""
        with greeted(gateway, source="127.0.9.8") as other:  # another network is served
            assert other.command(b"NOOP\r\n").startswith("250")
    finally:
        for client in held:
            client.close()
    # Slots are given back when connections close.
    assert wait_until(lambda: _greets(gateway, source), timeout=5)


def test_idle_connections_free_their_slots_by_timing_out(gateway: GatewayProcess) -> None:
    source = "127.0.10.10"
    idle = [greeted(gateway, source=source) for _ in range(3)]
    try:
        assert not _greets(gateway, source)
        for client in idle:
            assert client.reply().startswith("421 4.4.2")
        assert wait_until(lambda: _greets(gateway, source), timeout=5)
    finally:
        for client in idle:
            client.close()


def _greets(gateway: GatewayProcess, source: str) -> bool:
    try:
        with RawClient(gateway.port, source=source, timeout=5) as client:
            return client.reply().startswith("220")
    except OSError:
        return False


def test_gateway_still_serves_after_the_abuse(gateway: GatewayProcess,
                                             downstream: Downstream) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5):
        pass
    code, _ = gateway.send("alice@example.org", ["bob@example.org"],
                           b"Subject: x\r\n\r\nInternal\r\nstill here\r\n")
    assert code == 250


def test_the_per_network_limit_holds_across_workers(tmp_path: Path,
                                                    downstream: Downstream) -> None:
    """Two workers accept on one socket; the limit is the gateway's, not each worker's."""
    process = GatewayProcess(tmp_path, downstream.url, config={
        "workers": 2, "max_connections_per_ip": 3, "session_timeout": 30,
        "trusted_networks": ["127.0.0.1/32"]}).start()
    source = "127.0.11.11"
    held: list[RawClient] = []
    trusted: list[RawClient] = []
    try:
        held = [greeted(process, source=source) for _ in range(3)]
        for _ in range(6):  # with a limit per worker, about half of these would get in
            with RawClient(process.port, source=source) as extra:
                reply = extra.reply()
                assert reply.startswith("421 4.7.0"), reply
        for client in held:
            assert client.command(b"NOOP\r\n").startswith("250")
        # A trusted client (the organisation's own mail server) has no per-network limit.
        trusted = [greeted(process) for _ in range(5)]
    finally:
        for client in held + trusted:
            client.close()
        assert wait_until(lambda: _greets(process, source), timeout=5)
        process.stop()
