"""Walking message bytes into facts: top texts, attached messages, headers, unreadable parts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core.message import MAX_DEPTH, MAX_PARTS, MessageFacts, read_message
from gateway.core.mime_walk import _PGP_MESSAGE, Walker, _without_armour
from gateway.core.model import Location
from tests.core.mail import alternative, html, plain, raw, with_attached


def texts(data: bytes) -> list[tuple[Location, str]]:
    return [(t.location, t.text.strip()) for t in read_message(data).top_texts]


# ---------------------------------------------------------------------------------------
# Which parts are the top text.

def test_plain_message() -> None:
    assert texts(plain("Internal\nHello")) == [(Location.BODY, "Internal\nHello")]


def test_html_message_gives_visible_text() -> None:
    [(location, text)] = texts(html("<p>Internal</p><script>Cleared</script><p>Hello</p>"))
    assert location is Location.HTML
    assert text.split("\n") == ["Internal", "", "Hello"]


def test_every_alternative_is_a_top_text() -> None:
    found = texts(alternative("Internal\nHello", "<p>Confidential</p>"))
    assert [loc for loc, _ in found] == [Location.BODY, Location.HTML]


MIXED = """Subject: x
Content-Type: multipart/mixed; boundary="OUT"
"""
MIXED_BODY = """--OUT
Content-Type: multipart/alternative; boundary="ALT"

--ALT
Content-Type: text/plain; charset=utf-8

Internal
--ALT
Content-Type: text/html; charset=utf-8

<p>Confidential</p>
--ALT--
--OUT
Content-Type: text/plain; charset=utf-8
Content-Disposition: attachment; filename="notes.txt"

Cleared for publication
--OUT
Content-Type: image/png
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--OUT--
"""


def test_mixed_reads_the_first_part_and_not_the_attachments() -> None:
    found = texts(raw(MIXED, MIXED_BODY))
    assert found == [(Location.BODY, "Internal"), (Location.HTML, "Confidential")]


def test_related_html_with_images() -> None:
    data = raw('Subject: x\nContent-Type: multipart/related; boundary="R"',
               "--R\nContent-Type: text/html\n\n<p>Internal</p>\n"
               "--R\nContent-Type: image/png\n\nxx\n--R--\n")
    assert texts(data) == [(Location.HTML, "Internal")]


def test_signed_message_reads_the_signed_part() -> None:
    data = raw('Subject: x\nContent-Type: multipart/signed; protocol="application/pgp-signature";'
               ' boundary="S"',
               "--S\nContent-Type: text/plain\n\nConfidential\n"
               "--S\nContent-Type: application/pgp-signature\n\nsig\n--S--\n")
    facts = read_message(data)
    assert [t.text.strip() for t in facts.top_texts] == ["Confidential"]
    assert facts.unreadable == ()


def test_message_without_content_type_is_plain_text() -> None:
    assert texts(b"Subject: x\r\n\r\nInternal\r\n") == [(Location.BODY, "Internal")]


# ---------------------------------------------------------------------------------------
# Transfer encodings and charsets are undone.

@pytest.mark.parametrize(("headers", "body", "expected"), [
    ("Content-Transfer-Encoding: base64", "SW50ZXJuYWwKSGVsbG8K", "Internal\nHello"),
    ("Content-Transfer-Encoding: base64", "SW50ZXJu\nYWwKSGVs\nbG8K\n", "Internal\nHello"),
    ("Content-Transfer-Encoding: base64", "SW50ZXJuYWw", "Internal"),  # padding missing
    ("Content-Transfer-Encoding: quoted-printable", "Confi=\ndential=0AHello",
     "Confidential\nHello"),
    ("Content-Transfer-Encoding: QUOTED-PRINTABLE", "Inter=6Eal", "Internal"),
    ("Content-Transfer-Encoding: 7bit", "Internal", "Internal"),
    ("Content-Transfer-Encoding: x-unknown", "Internal", "Internal"),
])
def test_transfer_encodings(headers: str, body: str, expected: str) -> None:
    data = raw(f"Subject: x\nContent-Type: text/plain; charset=utf-8\n{headers}", body)
    assert texts(data) == [(Location.BODY, expected)]


@pytest.mark.parametrize(("charset", "body"), [
    ("utf-8", "Déjà — ✓".encode()),
    ("latin-1", "Déjà".encode("latin-1")),
    ("windows-1252", "Déjà — “quoted”".encode("windows-1252")),
    ("utf-16", "Déjà — ✓".encode("utf-16")),
    ("iso-2022-jp", "日本語".encode("iso-2022-jp")),
    ('"UTF-8"', "Déjà".encode()),
])
def test_charsets(charset: str, body: bytes) -> None:
    head = f"Subject: x\r\nContent-Type: text/plain; charset={charset}\r\n\r\n".encode()
    # (a legacy label's text is also read as a detecting client may show it, not shown)
    [text] = [t.text.strip() for t in read_message(head + body).top_texts if t.shown]
    assert text == body.decode(charset.strip('"'))


def test_missing_charset_guesses_utf8_then_windows_1252() -> None:
    assert texts(b"Subject: x\r\n\r\nD\xc3\xa9j\xc3\xa0") == [(Location.BODY, "Déjà")]
    unlabelled = read_message(b"Subject: x\r\n\r\nD\xe9j\xe0 \x93q\x94").top_texts
    assert [t.text.strip() for t in unlabelled if t.shown] == ["Déjà “q”"]
    # the locale charsets a detecting client may take are read too, for stricter stamps
    assert "Dιjΰ “q”" in [t.text.strip() for t in unlabelled if not t.shown]  # Greek


# ---------------------------------------------------------------------------------------
# Headers.

def test_headers_are_decoded() -> None:
    data = raw("From: \"Alice\" <Alice@Example.ORG>, bob@partner.test\n"
               "Subject: =?utf-8?q?=5BInternal=5D_caf=C3=A9?=\n"
               "X-Stamp: internal\nX-Stamp: =?utf-8?b?Q29uZmlkZW50aWFs?=\n"
               "Message-ID: <m2@example.org>\nIn-Reply-To: <m1@example.org>\n"
               "References: <m0@example.org>\n <m1@example.org>", "x")
    facts = read_message(data)
    assert facts.subject == "[Internal] café"
    assert facts.x_stamps == ("internal", "Confidential")
    assert facts.from_addresses == ("alice@example.org", "bob@partner.test")
    assert facts.message_id == "<m2@example.org>"
    assert facts.thread_ids == ("<m1@example.org>", "<m0@example.org>")


@pytest.mark.parametrize(("header", "expected"), [
    (b"Subject: [Internal] caf\xc3\xa9", "[Internal] café"),  # raw UTF-8
    (b"Subject: [Internal] caf\xe9", "[Internal] café"),  # raw latin-1
    (b"Subject: [\xef\xbc\xa9NTERNAL] x", "[ＩNTERNAL] x"),  # raw fullwidth
    (b"Subject: folded\r\n  over two lines", "folded over two lines"),
    (b"Subject: =?no-such-charset?q?Internal?=", "Internal"),
])
def test_raw_and_odd_subjects(header: bytes, expected: str) -> None:
    assert read_message(header + b"\r\n\r\nx").subject == expected


def test_missing_headers() -> None:
    facts = read_message(b"\r\nHello")
    assert (facts.subject, facts.x_stamps, facts.message_id, facts.thread_ids) == ("", (), None, ())


# ---------------------------------------------------------------------------------------
# Attached messages.

def test_attached_message_is_walked() -> None:
    inner = plain("Confidential\nsecret", subject="[Confidential] original")
    facts = read_message(with_attached("Cleared\nsee attached", inner))
    assert [t.text.strip() for t in facts.top_texts] == ["Cleared\nsee attached"]
    [attached] = facts.attached
    assert attached.subject == "[Confidential] original"
    assert [t.text.strip() for t in attached.top_texts] == ["Confidential\nsecret"]


def test_attachments_nested_too_deep_are_unreadable() -> None:
    data = plain("Confidential\nbottom")
    for level in range(MAX_DEPTH + 1):
        data = with_attached(f"level {level}", data)
    facts = read_message(data)
    assert any("nested deeper" in reason for reason in _all_unreadable(facts))


def _all_unreadable(facts: MessageFacts) -> list[str]:
    found = list(facts.unreadable)
    for inner in facts.attached:
        found.extend(_all_unreadable(inner))
    return found


# ---------------------------------------------------------------------------------------
# Unreadable content is listed.

UNREADABLE = [
    ("PGP/MIME",
     'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="B"',
     "--B\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n--B\n"
     "Content-Type: application/octet-stream\n\n-----BEGIN PGP MESSAGE-----\nhQ\n"
     "-----END PGP MESSAGE-----\n--B--\n", "encrypted"),
    ("S/MIME enveloped",
     'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"\n'
     "Content-Transfer-Encoding: base64", "MIAGCSqGSIb3DQEHA6CAMIACAQAxggE=\n", "encrypted"),
    ("S/MIME, old type name",
     "Content-Type: application/x-pkcs7-mime\nContent-Transfer-Encoding: base64",
     "MIAGCSqGSIb3DQEHA6CAMIACAQAxggE=\n", "encrypted"),
    ("inline PGP armour", "Content-Type: text/plain",
     "Hello\n-----BEGIN PGP MESSAGE-----\nhQEMA\n-----END PGP MESSAGE-----\n", "PGP"),
    ("inline PGP in an HTML body", "Content-Type: text/html",
     "<pre>-----BEGIN PGP MESSAGE-----\nhQEMA\n-----END PGP MESSAGE-----</pre>", "PGP"),
    ("PGP-armoured second part",
     'Content-Type: multipart/mixed; boundary="M"',
     "--M\nContent-Type: text/plain\n\n\n--M\nContent-Type: text/plain\n\n"
     "-----BEGIN PGP MESSAGE-----\nhQEMA\n-----END PGP MESSAGE-----\n--M--\n", "PGP"),
    ("encrypted attachment",
     'Content-Type: multipart/mixed; boundary="M"',
     "--M\nContent-Type: text/plain\n\nHello\n--M\nContent-Type: application/pkcs7-mime\n\nxx\n"
     "--M--\n", "encrypted"),
    ("boundary never found", 'Content-Type: multipart/mixed; boundary="XYZ"',
     "no boundary here\nConfidential\n", "broken MIME"),
    ("multipart without a boundary parameter", "Content-Type: multipart/mixed",
     "--XYZ\nContent-Type: text/plain\n\nInternal\n--XYZ--\n", "broken MIME"),
    ("base64 that does not decode",
     "Content-Type: text/plain\nContent-Transfer-Encoding: base64", "!!!!notbase64@@@\n", "base64"),
    ("empty alternative", 'Content-Type: multipart/alternative; boundary="A"', "--A--\n",
     "alternative"),
]


@pytest.mark.parametrize(("headers", "body", "reason"),
                         [pytest.param(h, b, r, id=name) for name, h, b, r in UNREADABLE])
def test_unreadable_content_is_listed(headers: str, body: str, reason: str) -> None:
    facts = read_message(raw(f"Subject: x\n{headers}", body))
    assert any(reason in item for item in facts.unreadable), facts.unreadable


def test_too_many_parts_is_unreadable() -> None:
    parts = "".join(f"--P\nContent-Type: text/plain\n\npart {n}\n" for n in range(MAX_PARTS + 5))
    facts = read_message(raw('Subject: x\nContent-Type: multipart/mixed; boundary="P"',
                             parts + "--P--\n"))
    assert any("MIME parts" in item for item in facts.unreadable)


@pytest.mark.parametrize("data", [
    b"",
    b"\x00\x01\x02\xff",
    b"Subject: x\r\nContent-Type: multipart/mixed; boundary=\r\n\r\n--\r\n--\r\n",
    b"Content-Type: message/rfc822\r\n\r\nnot a message at all",
    b"Content-Type: text/plain; charset=\"\r\n\r\nx",
    b"Content-Transfer-Encoding: base64\r\nContent-Type: message/rfc822\r\n\r\n!!!",
    b"\r\n\r\n\r\n",
    b"Subject\r\n: x\r\n\r\nbody",
])
def test_garbage_never_raises(data: bytes) -> None:
    facts = read_message(data)
    assert isinstance(facts.unreadable, tuple)


def test_clear_signed_body_is_readable_and_its_armour_is_not_the_top() -> None:
    data = raw("Subject: x\nContent-Type: text/plain",
               "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nInternal\nHello\n"
               "-----BEGIN PGP SIGNATURE-----\niQEz\n-----END PGP SIGNATURE-----\n")
    facts = read_message(data)
    assert facts.unreadable == ()
    assert facts.top_texts[0].text.startswith("Internal\nHello\n")


armoured = st.lists(st.sampled_from([
    "-----BEGIN PGP MESSAGE-----", "-----BEGIN PGP SIGNED MESSAGE-----", "-----BEGIN PGP ",
    "-----BEGIN PGP SIGNATURE-----", "Hash: SHA256", "Internal", " ", "\t", "\n", "\n\n", "x",
]), max_size=12).map("".join)


@settings(max_examples=400, deadline=None)
@given(armoured)
def test_the_armour_is_found_as_the_patterns_alone_find_it(text: str) -> None:
    """A text without the armour's opening words skips the patterns: the same reading."""
    walker = Walker(0, lambda *args: None)  # type: ignore[arg-type, return-value]
    rendering = walker._rendering(Location.BODY, text, own=True, shown=True)
    assert rendering == (Location.BODY, _without_armour(text), True)
    assert walker.unreadable == (["PGP-encrypted body"] if _PGP_MESSAGE.search(text) else [])
