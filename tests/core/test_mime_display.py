"""MIME walked as clients display it: every inline part, roots, attached messages, sniffing."""

from __future__ import annotations

import base64

import pytest

from gateway.core.message import read_message
from gateway.core.mime_walk import MAX_NESTING
from gateway.core.model import Location, Stamp
from gateway.core.stamps import StampReading, Vocabulary, read_stamps
from tests.core.mail import raw

C = Stamp.CONFIDENTIAL
I = Stamp.INTERNAL  # noqa: E741


def reading(data: bytes, vocabulary: Vocabulary) -> StampReading:
    return read_stamps(read_message(data), vocabulary)


def mixed(*parts: str, subtype: str = "mixed") -> bytes:
    body = "".join(f"--M\n{part}\n" for part in parts) + "--M--\n"
    return raw(f'Subject: x\nContent-Type: multipart/{subtype}; boundary="M"', body)


TEXT = "Content-Type: text/plain; charset=utf-8\n\n"
IMAGE = "Content-Type: image/png\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo="


@pytest.mark.parametrize(("data", "stamp"), [
    (mixed(TEXT, TEXT + "Confidential\nsecret"), C),
    (mixed(TEXT + "\n\n", TEXT + "Internal\nHello"), I),
    (mixed(IMAGE, TEXT + "Confidential\nsecret"), C),
    (mixed("Content-Type: text/html\n\n<p></p>", TEXT + "Internal\nHello"), I),
    (mixed(TEXT, TEXT + "Internal", subtype="x-unknown"), I),
    (mixed(TEXT, TEXT + "Internal", subtype="report"), I),
], ids=["empty-first-text", "blank-first-text", "inline-image-first", "empty-html-first",
        "unknown-subtype", "report"])
def test_mixed_shows_every_inline_part(data: bytes, stamp: Stamp,
                                       vocabulary: Vocabulary) -> None:
    found = reading(data, vocabulary)
    assert found.stamp is stamp
    assert found.unreadable == ()


def test_mixed_parts_joined_in_order_are_one_candidate() -> None:
    texts = [t.text for t in read_message(mixed(TEXT + "Internal", TEXT + "Hello")).top_texts]
    assert "Internal\nHello" in texts


def test_related_displays_its_start_root(vocabulary: Vocabulary) -> None:
    data = raw('Subject: x\nContent-Type: multipart/related; boundary="R"; start="<root@x>"',
               "--R\nContent-Type: text/plain\nContent-ID: <other@x>\n\nCleared for publication\n"
               "--R\nContent-Type: text/html\nContent-ID: <root@x>\n\n<p>Confidential</p>\n"
               "--R--\n")
    assert [(t.location, t.text.strip()) for t in read_message(data).top_texts] == [
        (Location.HTML, "Confidential")]
    assert reading(data, vocabulary).stamp is C


@pytest.mark.parametrize("ctype", ["message/rfc822", "message/global"])
def test_an_attached_message_first_or_as_the_top_level_type(ctype: str,
                                                             vocabulary: Vocabulary) -> None:
    inner = "Subject: orig\r\nContent-Type: text/plain\r\n\r\nConfidential\r\nsecret\r\n"
    first = mixed(f"Content-Type: {ctype}\n\n{inner}", TEXT + "Cleared for publication")
    top = raw(f"Subject: fwd\nContent-Type: {ctype}", inner)
    for data in (first, top):
        found = reading(data, vocabulary)
        assert [f.stamp for f in found.embedded] == [C]
        assert [f.location for f in found.embedded] == [Location.ATTACHED]


def test_message_global_headers_are_utf8(vocabulary: Vocabulary) -> None:
    inner = "Subject: [Confidencial] caso ñ\r\n\r\nhola\r\n"
    facts = read_message(raw("Subject: fwd\nContent-Type: message/global", inner))
    assert facts.attached[0].subject == "[Confidencial] caso ñ"


@pytest.mark.parametrize("part", [
    'Content-Type: application/octet-stream\nContent-Disposition: attachment; filename="a.eml"'
    "\n\nSubject: orig\n\nConfidential\n",
    'Content-Type: application/octet-stream; name="notes.txt"\nContent-Transfer-Encoding: base64'
    "\n\n" + base64.b64encode(b"From: bob@example.org\r\n\r\nConfidential\r\n").decode(),
    'Content-Type: text/plain\nContent-Disposition: attachment; filename="notes"\n\n'
    "Confidential\nsecret",
    'Content-Type: application/octet-stream\nContent-Disposition: attachment; filename="n.TXT"'
    "\n\nConfidential\nsecret",
], ids=["eml", "txt-holding-a-message", "text-attachment", "octet-stream-txt"])
def test_attachments_that_are_messages_or_text_are_read_as_embedded(
        part: str, vocabulary: Vocabulary) -> None:
    found = reading(mixed(TEXT + "Internal\nsee attached", part), vocabulary)
    assert found.stamp is I
    assert C in [f.stamp for f in found.embedded]


def test_binary_attachments_are_not_read(vocabulary: Vocabulary) -> None:
    part = 'Content-Type: application/pdf; name="a.pdf"\n\nConfidential\n'
    found = reading(mixed(TEXT + "Internal", part), vocabulary)
    assert (found.stamp, found.embedded) == (I, ())


def test_deep_nesting_fails_closed_without_overflowing() -> None:
    data = b"Content-Type: text/plain\r\n\r\nCleared for publication\r\n"
    for level in range(MAX_NESTING * 40):
        data = (f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n--b{level}\r\n'
                .encode() + data + f"\r\n--b{level}--\r\n".encode())
    facts = read_message(b"Subject: x\r\n" + data)
    assert any("nested deeper" in reason for reason in facts.unreadable)


def test_part_headers_with_obsolete_syntax_are_read() -> None:
    data = mixed("Content-Type : text/html\n\n<p>Confidential</p>")
    assert [(t.location, t.text.strip()) for t in read_message(data).top_texts] == [
        (Location.HTML, "Confidential")]


def test_ambiguous_part_headers_fail_closed(vocabulary: Vocabulary) -> None:
    found = reading(mixed("Content-Type: text/plain\nno colon\n\nCleared for publication"),
                    vocabulary)
    assert any("broken MIME" in reason for reason in found.unreadable)


@pytest.mark.parametrize(("cte", "body", "text"), [
    ("base64 (encoded by the client)", "Q29uZmlkZW50aWFs", "Confidential"),
    ("  BASE64\t", "Q29uZmlkZW50aWFs", "Confidential"),
    ("quoted-printable (soft breaks)", "Confi=  \ndential", "Confidential"),
    ("x-uuencode", "begin 644 a.txt\n,0V]N9FED96YT:6%L\n`\nend\n", "Confidential"),
])
def test_transfer_encodings_read_leniently(cte: str, body: str, text: str) -> None:
    facts = read_message(raw(f"Subject: x\nContent-Type: text/plain\n"
                             f"Content-Transfer-Encoding: {cte}", body))
    assert facts.top_texts[0].text.strip() == text
    assert facts.unreadable == ()


def test_base64_garbage_tail_decodes_the_valid_prefix(vocabulary: Vocabulary) -> None:
    body = base64.b64encode(b"Internal\r\nHello\r\n").decode() + "\n-- \nsent from my phone\n"
    facts = read_message(raw("Subject: x\nContent-Type: text/plain\n"
                             "Content-Transfer-Encoding: base64", body))
    assert facts.top_texts[0].text == "Internal\nHello\n"
    assert facts.unreadable == () and any("garbage" in d for d in facts.defects)
    assert read_stamps(facts, vocabulary).stamp is I


def test_a_large_mime_body_reads_quickly() -> None:
    import time
    data = mixed(TEXT + "\n" * 5_000_000, TEXT + "Internal")
    started = time.process_time()
    read_message(data)
    assert time.process_time() - started < 1.5
