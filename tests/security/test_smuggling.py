"""SMTP smuggling: no end-of-data look-alike ever yields a second message, even downstream."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.core.headers import has_bare_line_ending
from tests.security.lenient import LenientDownstream
from tests.security.support import RawClient
from tests.support.gateway import GatewayProcess

HEADER = (b"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: first\r\n"
          b"Message-ID: <first@example.org>\r\n\r\nCleared for publication\r\nfirst body")
SMUGGLED = (b"MAIL FROM:<alice@example.org>\r\nRCPT TO:<partner@outside.test>\r\nDATA\r\n"
            b"From: alice@example.org\r\nSubject: smuggled\r\n\r\nsmuggled body\r\n")

# Every end-of-data look-alike known from SMTP smuggling research, and a few more.
VARIANTS = {
    "lf.lf": b"\n.\n",
    "lf.crlf": b"\n.\r\n",
    "cr.lf": b"\r.\n",
    "cr.crlf": b"\r.\r\n",
    "cr.cr": b"\r.\r",
    "lf.cr": b"\n.\r",
    "crlf.cr": b"\r\n.\r",
    "crlf.lf": b"\r\n.\n",
    "crlf.cr.lf": b"\r\n.\r\r\n",
    "crlf-nul.crlf": b"\r\n\x00.\r\n",
    "crlf.nul-crlf": b"\r\n.\x00\r\n",
    "crlf-space.crlf": b"\r\n .\r\n",
    "crlf..crlf (dot-stuffed)": b"\r\n..\r\n",
}


@pytest.fixture(scope="module")
def lenient() -> Iterator[LenientDownstream]:
    server = LenientDownstream().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory,
            lenient: LenientDownstream) -> Iterator[GatewayProcess]:
    workdir: Path = tmp_path_factory.mktemp("smuggling")
    process = GatewayProcess(workdir, lenient.url, config={"workers": 1}).start()
    yield process
    process.stop()


def session(gateway: GatewayProcess, payload: bytes) -> list[str]:
    """One transaction whose DATA payload is ``payload``; every reply until the server closes."""
    with RawClient(gateway.port) as client:
        client.reply()
        client.command(b"EHLO client.test\r\n")
        assert client.command(b"MAIL FROM:<alice@example.org>\r\n").startswith("250")
        assert client.command(b"RCPT TO:<bob@example.org>\r\n").startswith("250")
        assert client.command(b"DATA\r\n").startswith("354")
        client.send(payload + b"QUIT\r\n")
        return client.rest()


@pytest.mark.parametrize("variant", list(VARIANTS), ids=list(VARIANTS))
def test_end_of_data_look_alike_never_yields_a_second_message(
        gateway: GatewayProcess, lenient: LenientDownstream, variant: str) -> None:
    lenient.clear()
    content = HEADER + VARIANTS[variant] + SMUGGLED
    replies = session(gateway, content + b".\r\n")
    final = [r for r in replies if r[:3] in ("250", "550", "451")]
    assert len(final) == 1, replies  # one answer for one DATA: nothing was smuggled in
    assert not any(r.startswith("354") for r in replies), replies
    assert replies[-1].startswith("221"), replies
    if b"\0" in content:
        assert final[0].startswith("550 5.6.0"), replies
        assert lenient.received() == []
    elif has_bare_line_ending(content):
        assert final[0].startswith("550 5.5.2"), replies
        assert lenient.received() == []
    else:
        # Not an end of data at all: one message, with the "commands" as body text.
        assert final[0].startswith("250"), replies
        received = _wait(lenient, 1)
        assert len(received) == 1, received
        assert b"smuggled body" in received[0]
    assert all(b"Subject: smuggled" not in m.split(b"\r\n\r\n")[0] for m in lenient.received())


def test_a_real_second_transaction_is_judged_on_its_own(gateway: GatewayProcess,
                                                       lenient: LenientDownstream) -> None:
    """Control: after a genuine CRLF.CRLF the next commands are a new, checked transaction."""
    lenient.clear()
    replies = session(gateway, HEADER + b"\r\n.\r\n" + SMUGGLED + b".\r\n")
    assert [r[:3] for r in replies] == ["250", "250", "250", "354", "250", "221"], replies
    assert len(_wait(lenient, 2)) == 2


def _wait(lenient: LenientDownstream, count: int) -> list[bytes]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(lenient.received()) < count:
        time.sleep(0.02)
    time.sleep(0.2)  # anything extra would have arrived by now
    return lenient.received()


# ---------------------------------------------------------------------------------------
# Header smuggling: a line that moves the end of the header block for one reader only.

def _send(gateway: GatewayProcess, recipient: bytes, content: bytes) -> str:
    with RawClient(gateway.port) as client:
        client.reply()
        client.command(b"EHLO client.test\r\n")
        assert client.command(b"MAIL FROM:<alice@example.org>\r\n").startswith("250")
        assert client.command(b"RCPT TO:<" + recipient + b">\r\n").startswith("250")
        assert client.command(b"DATA\r\n").startswith("354")
        return client.command(content + b".\r\n")


AMBIGUOUS = {
    "no colon": b"Cleared for publication",
    "8-bit name": b"Caf\xc3\xa9: x",
    "mbox From in the middle": b"From alice@example.org Mon Jan  1 00:00:00 2024",
}


@pytest.mark.parametrize("line", list(AMBIGUOUS.values()), ids=list(AMBIGUOUS))
def test_an_ambiguous_header_boundary_is_refused(gateway: GatewayProcess,
                                                 lenient: LenientDownstream,
                                                 line: bytes) -> None:
    lenient.clear()
    content = (b"From: alice@example.org\r\nSubject: story\r\n" + line +
               b"\r\n\r\nConfidential\r\nsecret\r\n")
    reply = _send(gateway, b"bob@example.org", content)
    assert reply.startswith("550 5.6.0"), reply
    assert "header block" in reply
    assert _wait(lenient, 0) == []


def test_an_obsolete_x_stamp_cannot_hide_the_body_stamp(gateway: GatewayProcess,
                                                        lenient: LenientDownstream) -> None:
    lenient.clear()
    content = (b"From: alice@example.org\r\nX-Stamp : cleared\r\nSubject : story\r\n\r\n"
               b"Internal\r\nnot for the press\r\n")
    reply = _send(gateway, b"press@example.org", content)
    assert reply.startswith("550-5.7.1"), reply
    assert "(stamp: Internal; found in: body)" in reply
    assert _wait(lenient, 0) == []
    # The same header to a colleague is relayed with the gateway's reading only.
    reply = _send(gateway, b"bob@example.org", content)
    assert reply.startswith("250"), reply
    [relayed] = _wait(lenient, 1)
    header = relayed.split(b"\r\n\r\n", 1)[0]
    assert b"X-Stamp: internal" in header and b"cleared" not in header
