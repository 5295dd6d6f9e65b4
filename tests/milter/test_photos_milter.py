"""Photos through a real Postfix with stampgate as its milter: the MTA's copy is the relay's,
with the photo stripped of its metadata; mail whose body is unchanged gets no body edit."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default

from gateway.milter.message import body_edits
from tests.milter.conftest import MilterPostfix
from tests.support import photos as p

ALICE = "alice@example.org"
BOB = "bob@example.org"
PARTNER = "partner@outside.test"


def images(data: bytes) -> list[bytes]:
    found = []
    for part in message_from_bytes(data, policy=default).walk():
        if part.get_content_maintype() == "image":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found.append(payload)
    return found


def test_the_mta_delivers_the_stripped_photo(postfix: MilterPostfix) -> None:
    original = p.photo("JPEG", p.blurred(p.astronaut()), p.exif())
    data = p.mail_with([("visit.jpg", original)], to=PARTNER, subject="Milter photo")
    code, reply = postfix.send(ALICE, [PARTNER], data)
    assert code == 250, reply
    [got] = postfix.downstream.wait_for(1)
    (image,) = images(got.data)
    assert b"SN-0042" in original and b"SN-0042" not in image and b"Jane" not in image
    assert "X-Stampgate-Photos: visit.jpg: location, device serial, owner name stripped" \
        in got.header_text


def test_colleagues_get_the_photo_untouched(postfix: MilterPostfix) -> None:
    original = p.photo("JPEG", p.blurred(p.astronaut()), p.exif())
    data = p.mail_with([("visit.jpg", original)], to=BOB, subject="Milter photo inside")
    code, reply = postfix.send(ALICE, [BOB], data)
    assert code == 250, reply
    [got] = postfix.downstream.wait_for(1)
    assert images(got.data) == [original]


def test_no_body_edit_when_the_body_is_the_clients() -> None:
    data = b"Subject: x\r\n\r\nline one\r\n"
    assert body_edits(data, b"X-Stamp: cleared\r\n" + data) == []
    assert body_edits(data, None) == []
    (edit,) = body_edits(data, b"Subject: x\r\n\r\nline two\r\n")
    assert bytes(edit.content) == b"line two\r\n"
    long = b"Subject: x\r\n\r\n" + b"a" * 70000
    assert [len(e.content) for e in body_edits(data, long)] == [65535, 4465]
