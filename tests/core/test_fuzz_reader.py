"""Properties of the reader on arbitrary input: it never raises, and it fails closed."""

from __future__ import annotations

import base64
import quopri

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.core.decision import ThreadContext, decide
from gateway.core.message import read_message
from gateway.core.model import Location, Stamp, Verdict
from gateway.core.policy import Policy
from gateway.core.recipients import parse_recipient
from gateway.core.stamps import Vocabulary, read_stamps, read_top_text

FUZZ = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

PRESS = "press@example.org"
EXTERNAL = "partner@outside.test"

# Lines that exercise the reader: stamps, tricks, and the markers of embedded content.
LINES = [
    "Confidential", "Internal", "Cleared for publication", "Needs adjustment in 2 ways: a, b",
    "[CONFIDENTIAL]", "Stamp: Internal", "Internal audit starts Monday.", "Сonfidential",
    "Con\u200bfidential", "ＣＯＮＦＩＤＥＮＴＩＡＬ", "- blur face", "1. change name", "",
    "> Internal", ">> Confidential", "> > Cleared", ">", "On Mon, Bob wrote:",
    "Le lun. 1 janv. 2024, Bob a écrit :", "Am 1.1.2024 schrieb Bob:", "كتب Bob:",
    "---------- Forwarded message ---------", "-----Original Message-----",
    "Begin forwarded message:", "From: Bob", "Sent: Monday", "Subject: [Internal] x",
    "To: Alice", "Objet : [Confidential]", "________________________________",
    "-----BEGIN PGP MESSAGE-----", "Hello Bob,", "\u00a0", "\ufeff", "<p>Internal</p>",
]
STAMP_LINES = ["", "Confidential", "Internal", "Needs adjustment: blur face",
               "Cleared for publication", "Hello"]

lines = st.one_of(st.sampled_from(LINES), st.text(max_size=40))
bodies = st.lists(lines, max_size=30).map("\n".join)
charsets = st.sampled_from(["utf-8", "latin-1", "utf-16", "iso-2022-jp", "windows-1252",
                            "koi8-r", "no-such-charset", ""])
encodings = st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", "binary", "x-odd"])
leaf_types = st.sampled_from([
    "text/plain", "text/html", "text/enriched", "application/octet-stream", "image/png",
    "application/pkcs7-mime", "application/pgp-encrypted",
])
multipart_types = st.sampled_from([
    "multipart/mixed", "multipart/alternative", "multipart/related", "multipart/signed",
    "multipart/encrypted", "multipart/report",
])


@st.composite
def leaves(draw: st.DrawFn) -> bytes:
    ctype = draw(leaf_types)
    charset = draw(charsets)
    encoding = draw(encodings)
    text = draw(bodies)
    if ctype == "text/html":
        text = "".join(f"<p>{line}</p>" for line in text.split("\n"))
    try:
        body = text.encode(charset or "utf-8", errors="replace")
    except LookupError:
        body = text.encode("utf-8")
    if encoding == "base64":
        body = base64.encodebytes(body)
    elif encoding == "quoted-printable":
        body = quopri.encodestring(body)
    if draw(st.booleans()):
        body = body[:draw(st.integers(0, len(body)))]  # truncated
    head = f"Content-Type: {ctype}" + (f"; charset={charset}" if charset else "")
    head += f"\r\nContent-Transfer-Encoding: {encoding}\r\n"
    if draw(st.booleans()):
        head += "Content-Disposition: attachment\r\n"
    return head.encode() + b"\r\n" + body


def _multipart(draw: st.DrawFn, children: list[bytes]) -> bytes:
    ctype = draw(multipart_types)
    boundary = draw(st.sampled_from(["B1", "b=2", "", "a b", "x" * 80]))
    head = f'Content-Type: {ctype}; boundary="{boundary}"\r\n\r\n'.encode()
    used = draw(st.sampled_from([boundary, boundary, "WRONG"])).encode()
    body = b"".join(b"--" + used + b"\r\n" + child + b"\r\n" for child in children)
    if draw(st.booleans()):
        body += b"--" + used + b"--\r\n"
    return head + body


def _attached(draw: st.DrawFn, inner: bytes) -> bytes:
    encoding = draw(st.sampled_from(["7bit", "base64"]))
    data = base64.encodebytes(inner) if encoding == "base64" else inner
    head = f"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n"
    return head.encode() + data


@st.composite
def parts(draw: st.DrawFn, depth: int = 0) -> bytes:
    if depth >= 3 or draw(st.integers(0, 2)) == 0:
        return draw(leaves())
    if draw(st.integers(0, 3)) == 0:
        return _attached(draw, _top_headers(draw) + draw(parts(depth + 1)))
    children = draw(st.lists(parts(depth + 1), min_size=0, max_size=4))
    return _multipart(draw, children)


def _top_headers(draw: st.DrawFn) -> bytes:
    subject = draw(st.sampled_from(["Case", "[Confidential] Case", "Internal: x",
                                    "[Cleared for publication] story", "=?utf-8?b?!!?=",
                                    "Re: [Needs adjustment] x", "caf\udce9"]))
    head = f"From: bob@example.org\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
    if draw(st.booleans()):
        head += "X-Stamp: " + draw(st.sampled_from(["internal", "cleared", "bogus"])) + "\r\n"
    return head.encode("utf-8", "surrogateescape")


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    return _top_headers(draw) + draw(parts())


@st.composite
def encrypted_messages(draw: st.DrawFn) -> bytes:
    """A message certain to carry encrypted content, with stamps of any kind around it."""
    stamp_line = draw(st.sampled_from(STAMP_LINES))
    text = f"Content-Type: text/plain\r\n\r\n{stamp_line}\r\n{draw(bodies)}\r\n".encode(
        "utf-8", "replace")
    encrypted = draw(st.sampled_from([
        b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHA6CAMIACAQAxggE=\r\n",
        b'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; '
        b'boundary="E"\r\n\r\n--E\r\nContent-Type: application/pgp-encrypted\r\n\r\n'
        b"Version: 1\r\n--E\r\nContent-Type: application/octet-stream\r\n\r\n"
        b"-----BEGIN PGP MESSAGE-----\r\nhQ\r\n-----END PGP MESSAGE-----\r\n--E--\r\n",
        b"Content-Type: text/plain\r\n\r\n-----BEGIN PGP MESSAGE-----\r\nhQ\r\n"
        b"-----END PGP MESSAGE-----\r\n",
    ]))
    shape = draw(st.sampled_from(["alone", "after-text", "attached"]))
    if shape == "alone":
        body = encrypted
    elif shape == "after-text":
        body = (b'Content-Type: multipart/mixed; boundary="M"\r\n\r\n--M\r\n' + text
                + b"\r\n--M\r\n" + encrypted + b"\r\n--M--\r\n")
    else:
        inner = b"Subject: inner\r\n" + encrypted
        body = (b'Content-Type: multipart/mixed; boundary="M"\r\n\r\n--M\r\n' + text
                + b"\r\n--M\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--M--\r\n")
    return _top_headers(draw) + body


threads = st.one_of(
    st.none(),
    st.builds(ThreadContext, st.just("<t@example.org>"), st.sampled_from([None, *Stamp]),
              st.sampled_from([None, frozenset({"bob@example.org"}),
                               frozenset({PRESS, EXTERNAL, "bob@example.org"})])),
)


@FUZZ
@given(data=st.binary(max_size=4000))
def test_arbitrary_bytes_never_raise(data: bytes, vocabulary: Vocabulary) -> None:
    read_stamps(read_message(data), vocabulary)


@FUZZ
@given(data=messages())
def test_arbitrary_mime_trees_never_raise(data: bytes, vocabulary: Vocabulary) -> None:
    reading = read_stamps(read_message(data), vocabulary)
    assert all(f.depth >= 1 for f in reading.embedded)


@FUZZ
@given(text=st.text(max_size=3000) | bodies)
def test_arbitrary_text_never_raises(text: str, vocabulary: Vocabulary) -> None:
    for finding in read_top_text(text, vocabulary, Location.BODY):
        assert finding.depth == 0


@FUZZ
@given(data=encrypted_messages(), thread=threads,
       sender=st.sampled_from(["bob@example.org", "director@example.org", "x@outside.test"]))
def test_unreadable_without_cleared_never_reaches_press_or_outside(
        data: bytes, thread: ThreadContext | None, sender: str, policy: Policy) -> None:
    reading = read_stamps(read_message(data), policy.vocabulary)
    assert reading.unreadable
    recipients = [parse_recipient(a) for a in (PRESS, EXTERNAL, "press+x@example.org")]
    decision = decide(policy, reading, sender, recipients, thread)
    if reading.stamp is not Stamp.CLEARED:
        assert all(r.verdict is not Verdict.ALLOW for r in decision.recipients)


@FUZZ
@given(data=messages(), thread=threads)
def test_communications_receives_only_cleared_material(
        data: bytes, thread: ThreadContext | None, policy: Policy) -> None:
    reading = read_stamps(read_message(data), policy.vocabulary)
    decision = decide(policy, reading, "bob@example.org", [parse_recipient(PRESS)], thread)
    if decision.recipients[0].verdict is Verdict.ALLOW:
        assert decision.stamp is Stamp.CLEARED
        assert reading.stamp is Stamp.CLEARED or not reading.unreadable
    if reading.unreadable and reading.stamp is not Stamp.CLEARED:
        assert decision.recipients[0].verdict is not Verdict.ALLOW

