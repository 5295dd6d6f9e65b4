"""A downstream server's answer quoted in the gateway's reply never breaks the client's session:
a multi-line answer, a bare CR or LF, text that is not ASCII. Each command still gets exactly
one reply, in ASCII, with the downstream's code class, and the session goes on."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.downstream import free_port
from tests.support.gateway import GatewayProcess


class _Fake(socketserver.StreamRequestHandler):
    """Answers MAIL with ``server.answer`` (a reply as raw bytes); everything else with 250."""

    def handle(self) -> None:
        self.wfile.write(b"220 fake.test ESMTP\r\n")
        while line := self.rfile.readline():
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.wfile.write(b"250-fake.test\r\n250 8BITMIME\r\n")
            elif verb == b"MAIL":
                self.wfile.write(self.server.answer)  # type: ignore[attr-defined]
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    answer = b""


@pytest.fixture
def fake() -> Iterator[_Server]:
    server = _Server(("127.0.0.1", free_port()), _Fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _session(port: int) -> list[bytes]:
    """EHLO, one message, then NOOP; the raw reply to each command."""
    replies: list[bytes] = []
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        reader = sock.makefile("rb")

        def reply() -> bytes:
            lines = []
            while True:
                line = reader.readline()
                lines.append(line)
                if line[3:4] != b"-":
                    return b"".join(lines)

        reply()
        for command in (b"EHLO client.test", b"MAIL FROM:<alice@example.org>",
                        b"RCPT TO:<bob@example.org>", b"DATA",
                        b"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: s\r\n\r\n"
                        b"Cleared for publication\r\n\r\nhello\r\n.", b"NOOP"):
            sock.sendall(command + b"\r\n")
            replies.append(reply())
    return replies


@pytest.mark.parametrize(("answer", "code"), [
    ("451-first line\r\n451 4.3.0 second line caf\u00e9, try later\r\n", b"451"),
    ("451 4.3.0 one line with \u00fcml\u00e4uts and \u65e5\u672c\r\n", b"451"),
    ("550-5.1.0 sender refused\r\n550-bare\rCR inside\r\n550 5.1.0 bare\nLF too\r\n", b"550"),
    ("421 4.3.2 shutting down \xff\xfe\r\n", b"451"),
])
def test_a_downstream_answer_is_quoted_in_one_ascii_reply(tmp_path: Path, fake: _Server,
                                                           answer: str, code: bytes) -> None:
    # Bytes that are not UTF-8 at all (\xff\xfe) go out as they are.
    fake.answer = answer.encode("latin-1") if "\xff" in answer else answer.encode()
    process = GatewayProcess(tmp_path, f"smtp://127.0.0.1:{fake.server_address[1]}").start()
    try:
        replies = _session(process.port)
    finally:
        process.stop()
    final, noop = replies[-2], replies[-1]
    assert final.startswith(code), final
    assert b"internal error" not in final
    # One reply: a single line ending in CRLF, no CR or LF inside, ASCII only.
    assert final.endswith(b"\r\n") and final.count(b"\n") == 1 and final.count(b"\r") == 1
    assert final.isascii()
    # The session is still in step: NOOP gets its own answer.
    assert noop == b"250 OK\r\n"
