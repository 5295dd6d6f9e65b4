"""Log hygiene: traffic through a real gateway leaves no subject or body in any log line."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from gateway.logs import configure, get_logger
from tests.security.support import PASSWORD, RawClient, add_account, swaks, tls_gateway
from tests.support.downstream import Downstream, Mode
from tests.support.gateway import GatewayProcess, message

MARKERS: list[str] = []


def marker(kind: str) -> str:
    token = f"{kind}{secrets.token_hex(6)}"
    MARKERS.append(token)
    return token


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory,
            downstream: Downstream) -> Iterator[GatewayProcess]:
    workdir: Path = tmp_path_factory.mktemp("hygiene")
    process = tls_gateway(workdir, downstream.url, max_message_size=20000,
                          held_encryption_key=base64.b64encode(b"k" * 32).decode(),
                          stamp_signing_key="a signing key of some length")
    add_account(process, "alice@example.org")
    yield process
    process.stop()


def send(gateway: GatewayProcess, recipients: list[str], body: str, subject: str,
         **kwargs: object) -> int:
    code, _ = gateway.send("alice@example.org", recipients,
                           message(body, subject=subject, **kwargs))  # type: ignore[arg-type]
    return code


def raw_data(gateway: GatewayProcess, payload: bytes) -> list[str]:
    """The replies from the one that answers DATA's payload on."""
    with RawClient(gateway.port) as client:
        client.reply()
        client.send(b"EHLO client.test\r\nMAIL FROM:<alice@example.org>\r\n"
                    b"RCPT TO:<bob@example.org>\r\nDATA\r\n" + payload + b"QUIT\r\n")
        replies = client.rest()
    return replies[[r[:3] for r in replies].index("354") + 1:]


def test_representative_traffic_leaves_no_subject_or_body_in_the_logs(
        gateway: GatewayProcess, downstream: Downstream) -> None:
    bob, press, partner = "bob@example.org", "press@example.org", "partner@outside.test"
    # relayed, bounced, held, partly held
    assert send(gateway, [bob], f"Internal\n{marker('relaybody')}", marker("relaysubj")) == 250
    assert send(gateway, [press], f"Internal\n{marker('bouncebody')}",
                marker("bouncesubj")) == 550
    assert send(gateway, [partner], f"Needs adjustment: blur face\n{marker('holdbody')}",
                marker("holdsubj")) == 250
    assert send(gateway, [bob, partner], f"Confidential\n{marker('mixbody')}",
                marker("mixsubj")) == 550
    # an encoded subject, a quoted reply and a broken MIME body
    encoded = base64.b64encode(f"Internal {marker('encsubj')}".encode()).decode()
    assert send(gateway, [bob], f"hello\n{marker('encbody')}", f"=?utf-8?b?{encoded}?=") == 250
    assert send(gateway, [bob], f"> Confidential\n> {marker('quoted')}\nok",
                marker("quotesubj")) == 250
    broken = (f"Subject: {marker('mimesubj')}\r\nMIME-Version: 1.0\r\nContent-Type: "
              f"multipart/mixed\r\n\r\n{marker('mimebody')}\r\n").encode()
    assert gateway.send("alice@example.org", [partner], broken)[0] == 250
    # bad input: bare LF, NUL, oversized, smuggling, pipelined body read as commands
    assert raw_data(gateway, f"Subject: {marker('lfsubj')}\n\n{marker('lfbody')}\r\n.\r\n"
                    .encode())[0].startswith("550 5.5.2")
    assert raw_data(gateway, f"Subject: {marker('nulsubj')}\r\n\r\n\0{marker('nulbody')}\r\n"
                    ".\r\n".encode())[0].startswith("550 5.6.0")
    big = f"Subject: {marker('bigsubj')}\r\n\r\n" + (marker("bigbody") + "\r\n") * 2000
    assert raw_data(gateway, big.encode() + b".\r\n")[0].startswith("552")
    assert raw_data(gateway, f"Subject: {marker('smugsubj')}\r\n\r\nx\n.\nMAIL FROM:<a@b.c>"
                    f"\r\n{marker('smugbody')}\r\n.\r\n".encode())[0].startswith("550")
    with RawClient(gateway.port) as client:
        client.reply()
        client.send(b"EHLO client.test\r\nMAIL FROM:<alice@example.org>\r\n"
                    b"RCPT TO:<bad%outside.test@example.org>\r\nDATA\r\n"
                    + "".join(f"{marker('cmdword')} {marker('cmdarg')}\r\n"
                              for _ in range(6)).encode())
        client.rest()
    # downstream trouble
    downstream.set(Mode.TEMPFAIL)
    assert send(gateway, [bob], f"Internal\n{marker('tempbody')}", marker("tempsubj")) == 451
    downstream.set(Mode.ACCEPT)
    # logins: a wrong password, then the sender binding refusing a foreign From:
    wrong = marker("password")
    result = swaks(gateway.port, "--tls", "--auth", "PLAIN", "--auth-user", "alice@example.org",
                   "--auth-password", wrong, "--from", "alice@example.org", "--to", bob,
                   source="127.0.0.2")
    assert "535" in result.stdout
    result = swaks(gateway.port, "--tls", "--auth", "LOGIN", "--auth-user",
                   "alice@example.org", "--auth-password", PASSWORD, "--from",
                   "alice@example.org", "--to", bob, "--header", "From: bob@example.org",
                   "--header", f"Subject: {marker('bindsubj')}", "--body",
                   f"Internal\r\n{marker('bindbody')}", source="127.0.0.2")
    assert "550 5.7.1 Message refused: the From: header" in result.stdout
    assert PASSWORD not in gateway.log()

    log = gateway.log()
    events = {e.get("event") for e in gateway.log_events()}
    assert {"message", "auth-failed", "auth-ok", "sender-refused"} <= events, events
    leaked = [m for m in MARKERS if m in log or m.lower() in log.lower()]
    assert leaked == [], leaked
    for line in log.splitlines():  # every line is a structured event, nothing free-form
        assert isinstance(json.loads(line), dict), line


def test_tracebacks_carry_no_local_variables(capsys: pytest.CaptureFixture[str]) -> None:
    secret_body = marker("localbody")
    configure("info")
    try:
        def relay(data: bytes) -> None:
            raise ValueError("could not relay")

        try:
            relay(secret_body.encode())
        except ValueError:
            get_logger().exception("internal-error", queue_id="Q1")
    finally:
        structlog.reset_defaults()
    err = capsys.readouterr().err
    assert "internal-error" in err and "could not relay" in err
    assert secret_body not in err
