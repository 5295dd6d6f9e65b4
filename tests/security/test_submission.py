"""Submission security over loopback: STARTTLS, AUTH, who may send, and as whom (swaks)."""

from __future__ import annotations

import base64
import smtplib
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.security.support import (
    PASSWORD,
    RawClient,
    add_account,
    cli,
    submission_port,
    swaks,
    tls_gateway,
)
from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess

ALICE = "alice@example.org"
BOB = "bob@example.org"
UNTRUSTED = "127.0.0.2"  # loopback, but outside trusted_networks = 127.0.0.1/32


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory,
           downstream: Downstream) -> Iterator[GatewayProcess]:
    """Main listener: STARTTLS, AUTH optional. Submission listener: STARTTLS, AUTH required."""
    workdir: Path = tmp_path_factory.mktemp("secure")
    port = submission_port()
    process = tls_gateway(workdir, downstream.url, trusted_networks=["127.0.0.1/32"],
                          submission_listen=f"127.0.0.1:{port}", auth_failure_limit=3)
    process.submission_port = port  # type: ignore[attr-defined]
    add_account(process, ALICE)
    add_account(process, "casework", "casework@example.org", "carol@example.org")
    add_account(process, "mallory@example.org")
    yield process
    process.stop()


def sub_port(gateway: GatewayProcess) -> int:
    return int(gateway.submission_port)  # type: ignore[attr-defined]


def auth_args(user: str = ALICE, password: str = PASSWORD, mech: str = "PLAIN") -> list[str]:
    return ["--tls", "--auth", mech, "--auth-user", user, "--auth-password", password]


def message_args(sender: str = ALICE, to: str = BOB, header_from: str | None = None,
                 body: str = "Internal\r\nThe audit numbers are in.") -> list[str]:
    args = ["--from", sender, "--to", to, "--header", "Subject: budget", "--body", body]
    if header_from is not None:
        args += ["--header", f"From: {header_from}"]
    return args


def test_untrusted_client_without_auth_gets_530_before_data(secure: GatewayProcess,
                                                          downstream: Downstream) -> None:
    with RawClient(secure.port, source=UNTRUSTED) as client:
        client.reply()
        assert "STARTTLS" in client.command(b"EHLO client.test\r\n")
        mail = client.command(b"MAIL FROM:<alice@example.org>\r\n")
        assert mail.startswith("530 5.7.0 Authentication required"), mail
        assert client.command(b"RCPT TO:<bob@example.org>\r\n").startswith("503")
        assert client.command(b"DATA\r\n").startswith("503")
    assert downstream.messages == []


def test_auth_is_never_offered_or_accepted_in_clear_text(secure: GatewayProcess) -> None:
    with RawClient(secure.port, source=UNTRUSTED) as client:
        client.reply()
        ehlo = client.command(b"EHLO client.test\r\n")
        assert "AUTH" not in ehlo, ehlo
        token = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode()).decode()
        reply = client.command(f"AUTH PLAIN {token}\r\n".encode())
        assert reply.startswith("538 5.7.11 Encryption required"), reply


def test_trusted_network_may_still_send_without_auth_on_the_main_listener(
        secure: GatewayProcess, downstream: Downstream) -> None:
    result = swaks(secure.port, *message_args())
    assert result.returncode == 0, result.stdout
    assert downstream.wait_for(1)[0].recipients == [BOB]


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_starttls_and_auth_from_an_untrusted_address_relays(secure: GatewayProcess,
                                                           downstream: Downstream,
                                                           mech: str) -> None:
    result = swaks(secure.port, *auth_args(mech=mech), *message_args(), source=UNTRUSTED)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "235 2.7.0 Authentication successful" in result.stdout
    assert "250 2.0.0 Ok: queued as" in result.stdout
    assert downstream.wait_for(1)[0].recipients == [BOB]


def test_submission_listener_demands_starttls_first(secure: GatewayProcess,
                                                   downstream: Downstream) -> None:
    with RawClient(sub_port(secure)) as client:
        client.reply()
        assert "AUTH" not in client.command(b"EHLO client.test\r\n")
        reply = client.command(b"MAIL FROM:<alice@example.org>\r\n")
        assert reply.startswith("530"), reply
        assert "STARTTLS" in reply
    assert downstream.messages == []


def test_submission_listener_demands_auth_even_from_a_trusted_network(
        secure: GatewayProcess, downstream: Downstream) -> None:
    result = swaks(sub_port(secure), "--tls", *message_args())
    assert result.returncode != 0
    assert "530 5.7.0 Authentication required" in result.stdout
    assert downstream.messages == []


def test_submission_listener_relays_for_a_logged_in_user(secure: GatewayProcess,
                                                        downstream: Downstream) -> None:
    result = swaks(sub_port(secure), *auth_args(), *message_args())
    assert result.returncode == 0, result.stdout
    assert downstream.wait_for(1)[0].recipients == [BOB]


def test_wrong_password_gets_535(secure: GatewayProcess, downstream: Downstream) -> None:
    result = swaks(sub_port(secure), *auth_args(password="not the password"), *message_args(),
                   source="127.0.0.3")
    assert result.returncode != 0
    assert "535 5.7.8 Authentication credentials invalid" in result.stdout
    assert downstream.messages == []


def test_unknown_user_gets_the_same_535(secure: GatewayProcess) -> None:
    result = swaks(sub_port(secure), *auth_args(user="nobody@example.org"), *message_args(),
                   source="127.0.0.3")
    assert "535 5.7.8 Authentication credentials invalid" in result.stdout


def test_repeated_failures_lock_the_address_out(secure: GatewayProcess) -> None:
    source = "127.0.0.4"
    for _ in range(3):
        result = swaks(sub_port(secure), *auth_args(password="guess"), *message_args(),
                       source=source)
        assert "535 5.7.8" in result.stdout
    result = swaks(sub_port(secure), *auth_args(), *message_args(), source=source)
    assert "454 4.7.0 Too many failed logins" in result.stdout, result.stdout
    # Another address is not affected.
    assert swaks(sub_port(secure), *auth_args(), *message_args(),
                 source="127.0.0.5").returncode == 0


def test_mail_from_another_persons_address_is_refused(secure: GatewayProcess,
                                                      downstream: Downstream) -> None:
    result = swaks(sub_port(secure), *auth_args(), *message_args(sender=BOB,
                                                                  header_from=ALICE))
    assert result.returncode != 0
    assert ("550 5.7.1 Sender address rejected: <bob@example.org> is not an address of the "
            "logged-in user alice@example.org") in result.stdout
    assert downstream.messages == []


def test_from_header_of_another_person_is_refused(secure: GatewayProcess,
                                                 downstream: Downstream) -> None:
    result = swaks(sub_port(secure), *auth_args(), *message_args(header_from=BOB))
    assert result.returncode != 0
    assert ("550 5.7.1 Message refused: the From: header names <bob@example.org>, which is "
            "not an address of the logged-in user alice@example.org") in result.stdout
    assert downstream.messages == []


@pytest.mark.parametrize("header_from", [ALICE, BOB])
def test_a_bare_line_ending_from_a_logged_in_user_is_refused(
        secure: GatewayProcess, downstream: Downstream, header_from: str) -> None:
    """The listener and the use case share one look for NUL and bare line endings; with
    another person's From: as well, the line ending is what is refused."""
    data = (f"From: {header_from}\r\nTo: {BOB}\r\nSubject: budget\r\n\r\n"
            "Internal\r\nThe audit numbers\nare in.\r\n").encode()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test gateway's own certificate
    with smtplib.SMTP("127.0.0.1", sub_port(secure), "client.test", timeout=20) as client:
        client.starttls(context=context)
        client.login(ALICE, PASSWORD)
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail(ALICE, [BOB], data)  # bytes go as they are (no line fix-up)
    assert refused.value.smtp_code == 550
    assert refused.value.smtp_error.startswith(
        b"5.5.2 Message refused: bare CR or LF line ending in DATA")
    assert downstream.messages == []


def test_an_oversized_header_gets_552_before_the_sender_check(secure: GatewayProcess,
                                                             downstream: Downstream) -> None:
    """The header block is not split for the From: check when the limit refuses it anyway."""
    folded = ["--header", "X-Long: " + "\r\n x" * 15_000] * 3  # about 135 KB
    result = swaks(sub_port(secure), *auth_args(), *message_args(header_from=BOB), *folded)
    assert result.returncode != 0
    assert ("552 5.3.4 Message refused: its header block is longer than this gateway accepts "
            "(limit 102400 bytes)") in result.stdout, result.stdout[-2000:]
    assert downstream.messages == []


@pytest.mark.parametrize("header_from", [
    '"bob@example.org" <alice@example.org>',
    "=?utf-8?q?bob=40example.org?= <alice@example.org>",
    "alice@example.org, bob@example.org",
    "undisclosed-recipients:;",
])
def test_from_header_tricks_are_refused(secure: GatewayProcess, downstream: Downstream,
                                        header_from: str) -> None:
    result = swaks(sub_port(secure), *auth_args(), *message_args(header_from=header_from))
    assert result.returncode != 0
    assert "550 5.7.1 Message refused: the From: header" in result.stdout, result.stdout
    assert downstream.messages == []


def test_sender_header_of_another_person_is_refused(secure: GatewayProcess,
                                                   downstream: Downstream) -> None:
    result = swaks(sub_port(secure), *auth_args(), *message_args(),
                   "--add-header", "Sender: bob@example.org")
    assert "550 5.7.1 Message refused: the Sender: header names <bob@example.org>" in \
        result.stdout, result.stdout
    assert downstream.messages == []


def test_an_account_may_send_as_each_of_its_addresses(secure: GatewayProcess,
                                                     downstream: Downstream) -> None:
    result = swaks(sub_port(secure), *auth_args(user="casework"),
                   *message_args(sender="carol@example.org",
                                 header_from="Carol <Carol@Example.org>"))
    assert result.returncode == 0, result.stdout
    assert downstream.wait_for(1)[0].sender == "carol@example.org"


def test_a_disabled_account_can_no_longer_log_in(secure: GatewayProcess,
                                                downstream: Downstream) -> None:
    login = "mallory@example.org"
    assert swaks(sub_port(secure), *auth_args(user=login),
                 *message_args(sender=login)).returncode == 0
    result = secure.run_cli("users", "disable", login, "--data", str(secure.data))
    assert result.returncode == 0, result.stderr
    listing = secure.run_cli("users", "list", "--data", str(secure.data))
    assert f"{login}  disabled" in listing.stdout
    refused = swaks(sub_port(secure), *auth_args(user=login), *message_args(sender=login),
                    source="127.0.0.6")
    assert "535 5.7.8 Authentication credentials invalid" in refused.stdout
    assert len(downstream.messages) == 1


def test_users_add_from_the_command_line(secure: GatewayProcess) -> None:
    added = cli("users", "add", "dora@example.org", "--password-stdin",
                           "--data", str(secure.data), input_text="a long enough passphrase\n")
    assert added.returncode == 0, added.stderr
    assert "dora@example.org: may send as dora@example.org" in added.stdout
    short = cli("users", "add", "eve@example.org", "--password-stdin",
                           "--data", str(secure.data), input_text="short\n")
    assert short.returncode == 2
    assert "at least 12 characters" in short.stderr
    users = (secure.data / "users.json")
    assert users.stat().st_mode & 0o077 == 0
    assert "a long enough passphrase" not in users.read_text()


def test_implicit_tls_submission_listener(tmp_path: Path, downstream: Downstream) -> None:
    port = submission_port()
    gateway = tls_gateway(tmp_path, downstream.url, submission_listen=f"127.0.0.1:{port}",
                          submission_tls="implicit")
    try:
        add_account(gateway, ALICE)
        result = swaks(port, "--tls-on-connect", "--auth", "PLAIN", "--auth-user", ALICE,
                       "--auth-password", PASSWORD, *message_args())
        assert result.returncode == 0, result.stdout + result.stderr
        assert downstream.wait_for(1)[0].recipients == [BOB]
        # Plain text on the implicit-TLS port gets nowhere.
        with RawClient(port, timeout=5) as client:
            client.send(b"EHLO client.test\r\n")
            assert not client.line().startswith("250")
    finally:
        gateway.stop()
