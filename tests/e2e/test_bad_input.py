"""Bad input gets a clear error, loses nothing, and the gateway keeps serving."""

from __future__ import annotations

import socket

import pytest

from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess, message

ALICE = "alice@example.org"
BOB = "bob@example.org"
PRESS = "press@example.org"
PARTNER = "partner@outside.test"


def raw_session(gateway: GatewayProcess, commands: list[bytes]) -> list[str]:
    """Send raw SMTP lines; return every reply line the gateway gave."""
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        reader = sock.makefile("rb")
        replies = [reader.readline().decode()]
        for command in commands:
            sock.sendall(command)
            while True:
                line = reader.readline().decode()
                replies.append(line)
                if len(line) < 4 or line[3] != "-":
                    break
        return replies


def still_serving(gateway: GatewayProcess, downstream: Downstream) -> None:
    code, _ = gateway.send(ALICE, [BOB], message("Internal\n\nstill here"))
    assert code == 250


@pytest.mark.parametrize(
    ("address", "code", "words"),
    [
        ("not-an-address", 553, "not a valid address"),
        ("bob@localhost", 553, "not a valid address"),
        ("bob@[127.0.0.1]", 553, "bracketed"),
        ("bob%outside.test@example.org", 553, "percent hack"),
        ("outside.test!bob@example.org", 553, "bang paths"),
        ("@relay.test:bob@example.org", 553, "Source routes"),
        ("bob@exa_mple.org", 553, "not a valid address"),
    ],
)
def test_refused_recipients_get_a_clear_5xx_at_rcpt(gateway: GatewayProcess,
                                                    downstream: Downstream,
                                                    address: str, code: int, words: str) -> None:
    replies = raw_session(gateway, [b"EHLO client.test\r\n", b"MAIL FROM:<alice@example.org>\r\n",
                                    f"RCPT TO:<{address}>\r\n".encode(), b"QUIT\r\n"])
    rcpt = replies[-2]
    assert rcpt.startswith(str(code)), replies
    assert words.lower() in rcpt.lower(), rcpt
    still_serving(gateway, downstream)


def test_quoted_local_part_is_judged_as_the_plain_address(gateway: GatewayProcess,
                                                         downstream: Downstream) -> None:
    replies = raw_session(gateway, [
        b"EHLO client.test\r\n", b"MAIL FROM:<alice@example.org>\r\n",
        b'RCPT TO:<"press"@example.org>\r\n', b"DATA\r\n",
        b"Subject: x\r\n\r\nInternal\r\n.\r\n", b"QUIT\r\n"])
    assert replies[-2].startswith("550"), replies
    assert downstream.messages == []


def test_raw_utf8_look_alike_domain_is_refused(gateway: GatewayProcess,
                                               downstream: Downstream) -> None:
    replies = raw_session(gateway, [b"EHLO client.test\r\n", b"MAIL FROM:<alice@example.org>\r\n",
                                    "RCPT TO:<bob@exаmple.org>\r\n".encode(), b"QUIT\r\n"])
    assert replies[-2][0] == "5", replies


def test_bare_lf_in_data_is_refused(gateway: GatewayProcess, downstream: Downstream) -> None:
    replies = raw_session(gateway, [
        b"EHLO client.test\r\n", b"MAIL FROM:<alice@example.org>\r\n",
        b"RCPT TO:<bob@example.org>\r\n", b"DATA\r\n",
        b"Subject: x\r\n\r\nInternal\nbare line feed\r\n.\r\n", b"QUIT\r\n"])
    assert replies[-2].startswith("550 5.5.2"), replies
    assert downstream.messages == []


def test_bare_cr_in_data_is_refused(gateway: GatewayProcess, downstream: Downstream) -> None:
    replies = raw_session(gateway, [
        b"EHLO client.test\r\n", b"MAIL FROM:<alice@example.org>\r\n",
        b"RCPT TO:<bob@example.org>\r\n", b"DATA\r\n",
        b"Subject: x\r\n\r\nInternal\rbare cr\r\n.\r\n", b"QUIT\r\n"])
    assert replies[-2].startswith("550 5.5.2"), replies
    assert downstream.messages == []


def test_oversized_message_is_refused_with_552(tmp_path: object, downstream: Downstream) -> None:
    from pathlib import Path

    process = GatewayProcess(Path(str(tmp_path)), downstream.url,
                             config={"max_message_size": 10_000}).start()
    try:
        code, reply = process.send(ALICE, [BOB], message("Internal\n\n" + "x" * 70 + "\n" * 0
                                                         + ("y" * 70 + "\n") * 300))
        assert code == 552, reply
        assert downstream.messages == []
        code, _ = process.send(ALICE, [BOB], message("Internal\n\nsmall"))
        assert code == 250
    finally:
        process.stop()


@pytest.mark.parametrize(
    "body",
    [
        # multipart without its boundary: broken MIME
        b"Content-Type: multipart/mixed; boundary=\"zzz\"\r\n\r\nno parts here\r\n",
        # S/MIME encrypted
        b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHA6CAMIACAQAxggFA\r\n",
        # PGP armour
        b"Content-Type: text/plain\r\n\r\n-----BEGIN PGP MESSAGE-----\r\nhQEMA\r\n"
        b"-----END PGP MESSAGE-----\r\n",
        # PGP/MIME
        b"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; "
        b"boundary=b1\r\n\r\n--b1\r\nContent-Type: application/pgp-encrypted\r\n\r\n"
        b"Version: 1\r\n--b1\r\nContent-Type: application/octet-stream\r\n\r\nhQEMA\r\n--b1--\r\n",
    ],
    ids=["no-boundary", "smime", "pgp-inline", "pgp-mime"],
)
def test_unreadable_content_fails_closed(gateway: GatewayProcess, downstream: Downstream,
                                         body: bytes) -> None:
    data = b"From: alice@example.org\r\nTo: x\r\nSubject: s\r\nMIME-Version: 1.0\r\n" + body
    code, reply = gateway.send(ALICE, [PRESS, PARTNER, BOB], data)
    # communications gets unstamped mail bounced anyway; without it, outsiders are held
    assert code == 550 and PRESS in reply
    code, reply = gateway.send(ALICE, [PARTNER, BOB], data)
    assert code == 250 and "held for review" in reply, reply
    delivered = downstream.wait_for(1)
    assert [m.recipients for m in delivered] == [[BOB]]


def test_unreadable_content_with_a_readable_cleared_stamp_goes_through(
        gateway: GatewayProcess, downstream: Downstream) -> None:
    data = (b"From: alice@example.org\r\nSubject: [Cleared for publication] report\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime\r\n\r\nMIAGCSqG\r\n")
    code, reply = gateway.send(ALICE, [PARTNER], data)
    assert code == 250 and "held" not in reply


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xfegarbage \xc3\x28 \xa0\xa1\r\n\r\n\xe2\x82\r\n",
        b"no header at all, just words\r\n",
        b"Subject: =?utf-8?B?!!!notbase64?= \xff\r\nContent-Type: text/plain; charset=x-unknown\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n@@@@not base64@@@@\r\n",
        b"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/mixed;"
        b" boundary=a\r\n\r\n--a\r\n--a--\r\n",
        b"",
    ],
    ids=["8bit-garbage", "no-headers", "bad-encodings", "self-nested-boundary", "empty"],
)
def test_garbage_never_crashes_and_never_reaches_communications(
        gateway: GatewayProcess, downstream: Downstream, data: bytes) -> None:
    code, reply = gateway.send(ALICE, [PRESS], data)
    assert code == 550, reply
    code, reply = gateway.send(ALICE, [BOB], data)
    assert code == 250, reply
    still_serving(gateway, downstream)


def test_untrusted_network_is_refused_before_data(tmp_path: object,
                                                  downstream: Downstream) -> None:
    from pathlib import Path

    process = GatewayProcess(Path(str(tmp_path)), downstream.url,
                             config={"trusted_networks": ["10.99.0.0/16"]}).start()
    try:
        with process.client() as smtp:
            smtp.ehlo()
            code, reply = smtp.mail(ALICE)
        assert code == 554
        assert b"not a trusted network" in reply
    finally:
        process.stop()
    assert downstream.messages == []


def test_broken_policy_stops_start_up_with_file_key_and_value(tmp_path: object,
                                                              downstream: Downstream) -> None:
    from pathlib import Path

    work = Path(str(tmp_path))
    process = GatewayProcess(work, downstream.url)
    rules = process.policies / "rules.toml"
    rules.write_text(rules.read_text().replace('external = "bounce"', 'external = "maybe"', 1))
    process.start(wait=False)
    assert process.proc is not None
    assert process.proc.wait(20) == 2
    log = process.log()
    assert "rules.toml" in log and "internal.external" in log and "'maybe'" in log


def test_too_many_recipients_get_452(gateway: GatewayProcess, downstream: Downstream) -> None:
    commands = [b"EHLO client.test\r\n", b"MAIL FROM:<alice@example.org>\r\n"]
    commands += [f"RCPT TO:<user{i}@example.org>\r\n".encode() for i in range(1001)]
    replies = raw_session(gateway, [*commands, b"QUIT\r\n"])
    assert replies[-2].startswith("452 4.5.3"), replies[-2]


def test_the_ehlo_reply_arrives_in_one_piece(gateway: GatewayProcess,
                                             downstream: Downstream) -> None:
    """A multi-line reply is written at once: one read holds every line up to the last."""
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.recv(4096)  # the greeting
        sock.sendall(b"EHLO client.test\r\n")
        sock.settimeout(10)
        chunk = sock.recv(65536).decode()
        lines = chunk.split("\r\n")
        assert lines[-1] == "", chunk
        assert all(line.startswith("250-") for line in lines[:-2]), chunk
        assert lines[-2].startswith("250 "), chunk
        assert "250-ENHANCEDSTATUSCODES" in lines and len(lines) > 3, chunk
        sock.sendall(b"QUIT\r\n")
    still_serving(gateway, downstream)
