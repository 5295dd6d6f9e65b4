"""Builders for real MIME messages (bytes) used by the core tests."""

from __future__ import annotations

import base64
import quopri
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP, default

HEADER = (
    "From: Alice <alice@example.org>\r\n"
    "To: Bob <bob@example.org>\r\n"
    "Message-ID: <m1@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
)


def plain(body: str, subject: str = "Case update", **headers: str) -> bytes:
    """A text/plain UTF-8 message, built by the standard library."""
    message = EmailMessage()
    message["From"] = "Alice <alice@example.org>"
    message["To"] = "Bob <bob@example.org>"
    message["Subject"] = subject
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes(policy=SMTP)


def html(markup: str, subject: str = "Case update", cte: str | None = None) -> bytes:
    """A text/html UTF-8 message; ``cte`` forces a transfer encoding."""
    message = EmailMessage()
    message["Subject"] = subject
    message.set_content(markup, subtype="html", cte=cte)
    return message.as_bytes(policy=SMTP)


def alternative(text: str, markup: str, subject: str = "Case update") -> bytes:
    """multipart/alternative with a plain and an HTML version."""
    message = EmailMessage()
    message["Subject"] = subject
    message.set_content(text)
    message.add_alternative(markup, subtype="html")
    return message.as_bytes(policy=SMTP)


def encoded(body: bytes, charset: str, encoding: str, subject: str = "Case update") -> bytes:
    """A single text/plain part whose body bytes are already in ``charset``.

    ``encoding`` is the transfer encoding: 8bit, base64 or quoted-printable.
    """
    if encoding == "base64":
        payload = base64.encodebytes(body).replace(b"\n", b"\r\n")
    elif encoding == "quoted-printable":
        payload = quopri.encodestring(body).replace(b"\n", b"\r\n")
    else:
        payload = body
    head = (HEADER + f"Subject: {subject}\r\n"
            f"Content-Type: text/plain; charset={charset}\r\n"
            f"Content-Transfer-Encoding: {encoding}\r\n\r\n")
    return head.encode("ascii") + payload


def raw(headers: str, body: str | bytes) -> bytes:
    """Hand-written bytes: ``headers`` (lines joined by CRLF here), a blank line, ``body``."""
    head = "\r\n".join(line for line in headers.strip("\n").split("\n")) + "\r\n\r\n"
    data = body.encode("utf-8") if isinstance(body, str) else body
    return head.encode("utf-8") + data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def with_attached(body: str, inner: bytes, subject: str = "Fwd: case") -> bytes:
    """A message whose text is ``body`` and whose second part is ``inner`` (message/rfc822)."""
    message = EmailMessage()
    message["Subject"] = subject
    message.set_content(body)
    attached = message_from_bytes(inner, policy=default)
    assert isinstance(attached, EmailMessage)
    message.add_attachment(attached)
    return message.as_bytes(policy=SMTP)
