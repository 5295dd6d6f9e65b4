"""Reading the stamp: where it is read, what counts as one, and the tricks it survives."""

from __future__ import annotations

import pytest

from gateway.core.message import read_message
from gateway.core.model import Location, Stamp
from gateway.core.stamps import StampReading, Vocabulary, read_stamps, read_subject, read_top_text
from tests.core.mail import alternative, encoded, html, plain, raw

C = Stamp.CONFIDENTIAL
I = Stamp.INTERNAL  # noqa: E741
N = Stamp.NEEDS_ADJUSTMENT
K = Stamp.CLEARED


def top_stamp(text: str, vocabulary: Vocabulary) -> Stamp | None:
    found = read_top_text(text, vocabulary, Location.BODY)
    best = max(found, key=lambda f: f.stamp.rank, default=None)
    return best.stamp if best else None


def reading_of(data: bytes, vocabulary: Vocabulary) -> StampReading:
    return read_stamps(read_message(data), vocabulary)


# ---------------------------------------------------------------------------------------
# What: the phrase alone, decorated, prefixed or trailed; sentences are not stamps.

SYNTAX = [
    ("Confidential", C),
    ("Strictly confidential", C),
    ("Internal", I),
    ("Cleared for publication", K),
    ("Cleared", K),
    ("Needs adjustment: blur face", N),
    ("Needs adjustment in 2 ways: blur face, change name", N),
    # brackets, asterisks, dashes and friends
    ("[CONFIDENTIAL]", C),
    ("(Internal)", I),
    ("<Internal>", I),
    ("**Internal**", I),
    ("*** CONFIDENTIAL ***", C),
    ("-- Internal --", I),
    ("--- Cleared for publication ---", K),
    ("== Internal ==", I),
    ("«Internal»", I),
    ("“Confidential”", C),
    (">> CONFIDENTIAL <<", C),
    ("[[ Strictly confidential ]]", C),
    # prefixes
    ("Stamp: Internal", I),
    ("STAMP: INTERNAL", I),
    ("Stamp : Internal", I),
    ("Label: confidential", C),
    ("Label:Internal", I),
    ("Classification: Cleared for publication", K),
    ("Classification - Internal", I),
    ("[Stamp: Confidential]", C),
    # punctuation and a short trailer
    ("Confidential - do not forward", C),
    ("Confidential – do not forward", C),
    ("CONFIDENTIAL: do not forward", C),
    ("Internal — not for press", I),
    ("Internal.", I),
    ("Internal!", I),
    ("Internal:", I),
    ("Internal, see below", I),
    ("Cleared for publication.", K),
    ("Cleared for publication, thanks", K),
    # emoji and other symbols are decoration too
    ("🔒 Confidential", C),
    ("Confidential 🔒", C),
    ("⚠️ INTERNAL ⚠️", I),
    ("✅ Cleared for publication", K),
    # a question is not a stamp
    ("Cleared for publication?", None),
    ("Cleared for publication ?", None),
    # two stamps on one line: the stricter
    ("Internal / Confidential", C),
    ("Confidential / Internal", C),
    ("Internal and Confidential", C),
    ("Internal & confidential", C),
    ("Cleared - Internal", I),
    # sentences and other words are not stamps
    ("Internal audit starts Monday.", None),
    ("Internal memo follows", None),
    # a common label form the example policy maps (it was a sentence before it was listed)
    ("Internal use only", I),
    ("Internally we agreed to publish", None),
    ("Confidentiality is our first duty", None),
    ("Confidential information about the client follows", None),
    ("Cleared the backlog today", None),
    ("Internal and external partners met", None),
    ("Is this cleared for publication?", None),
    ("Hello Bob,", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), SYNTAX, ids=[repr(t) for t, _ in SYNTAX])
def test_stamp_syntax(text: str, expected: Stamp | None, vocabulary: Vocabulary) -> None:
    assert top_stamp(text, vocabulary) is expected


POSITION = [
    ("Confidential\nHello Bob", C),
    ("\n\n\nConfidential\nHello Bob", C),
    ("   \n\t\n  Internal  \nHello", I),
    ("Hello Bob,\nConfidential\n", None),  # "confidential" in the body is not a stamp
    ("Hello Bob,\n\nThis is confidential, please keep it so.\n", None),
    ("Dear all\n\n\nInternal\n", None),
    # consecutive stamp lines at the top all count, blank lines between them too
    ("Internal\nConfidential\nHello", C),
    ("Cleared\n\nConfidential\nHello", C),
    ("Confidential\nCleared for publication\nHello", C),
    ("Cleared for publication\nHello\nConfidential", K),
    # a line without a letter or digit (a rule, stars, a mark that draws nothing) is
    # between stamp lines, not the end of them
    ("Cleared for publication\n-----\nConfidential\nHello", C),
    ("Cleared for publication\n* * *\nInternal\nHello", I),
    ("\ufffc\nConfidential\nHello", C),
    ("\ufb37\nConfidential\nHello", C),
    ("=====\nInternal\n", I),
    ("Cleared for publication\n-- \nAlice\nConfidential", K),
]


@pytest.mark.parametrize(("text", "expected"), POSITION, ids=[repr(t) for t, _ in POSITION])
def test_only_the_first_lines_count(text: str, expected: Stamp | None,
                                    vocabulary: Vocabulary) -> None:
    assert top_stamp(text, vocabulary) is expected


# ---------------------------------------------------------------------------------------
# Robust against case, invisibles, NFKC variants, confusables.

ROBUST = [
    ("CONFIDENTIAL", C),
    ("confidential", C),
    ("cOnFiDeNtIaL", C),
    ("\ufeffConfidential", C),  # BOM
    ("\u00a0Confidential\u00a0", C),  # NBSP
    ("Strictly\u00a0confidential", C),
    ("Cleared\u00a0for\u2003publication", K),
    ("Con\u200bfidential", C),  # zero-width space
    ("Con\u200dfi\u200cden\u2060tial", C),  # ZWJ, ZWNJ, word joiner
    ("Inter\u00adnal", I),  # soft hyphen
    ("\u202eInternal\u202c", I),  # bidi override
    ("ＣＯＮＦＩＤＥＮＴＩＡＬ", C),  # fullwidth (NFKC)
    ("Ｉｎｔｅｒｎａｌ", I),
    ("【Ｃｏｎｆｉｄｅｎｔｉａｌ】", C),
    ("\u0421onfidential", C),  # Cyrillic capital Es
    ("Сonfidеntiаl", C),  # Cyrillic С, е, а
    ("Ιnternal", I),  # Greek capital Iota
    ("Cleаred for publicаtion", K),
    ("\r\nConfidential\r\n", C),
    ("İnternal", I),  # Turkish dotted capital I
    ("𝐂𝐨𝐧𝐟𝐢𝐝𝐞𝐧𝐭𝐢𝐚𝐥", C),  # mathematical bold (NFKC)
    ("Ⓘⓝⓣⓔⓡⓝⓐⓛ", I),  # circled letters (NFKC)
]


@pytest.mark.parametrize(("text", "expected"), ROBUST, ids=[ascii(t) for t, _ in ROBUST])
def test_spelling_tricks_are_read(text: str, expected: Stamp, vocabulary: Vocabulary) -> None:
    assert top_stamp(text, vocabulary) is expected


# ---------------------------------------------------------------------------------------
# Needs adjustment: the listed adjustments and the stated count.

ADJUSTMENTS = [
    ("Needs adjustment in 2 ways: blur face, change name", ("blur face", "change name"), 2),
    ("Needs adjustments in 2 ways: blur face; change name", ("blur face", "change name"), 2),
    ("Needs adjustment in 3 ways - blur face, change name, withhold home town",
     ("blur face", "change name", "withhold home town"), 3),
    ("Needs adjustment in two ways: blur face and change name", ("blur face", "change name"), 2),
    ("Needs adjustment in three ways:\n- blur face\n- change name\n- withhold home town\n\nHi",
     ("blur face", "change name", "withhold home town"), 3),
    ("Needs adjustment in 2 ways\n\n* blur face\n* change name\nHello",
     ("blur face", "change name"), 2),
    ("Needs adjustment in 2 ways:\n1. blur face\n2) change name", ("blur face", "change name"), 2),
    ("Needs adjustment: blur face", ("blur face",), None),
    ("Needs adjustment", (), None),
    ("Needs adjustment in __ ways", (), None),  # the guidance's template, count left blank
    ("Needs adjustment in several ways:\n- blur face", ("blur face",), None),
    ("Needs adjustment in 2 ways: blur face", ("blur face",), 2),  # count and list disagree
]


@pytest.mark.parametrize(("text", "adjustments", "count"), ADJUSTMENTS,
                         ids=[repr(a[0]) for a in ADJUSTMENTS])
def test_needs_adjustment_lists_its_adjustments(text: str, adjustments: tuple[str, ...],
                                                count: int | None,
                                                vocabulary: Vocabulary) -> None:
    reading = reading_of(plain(text), vocabulary)
    assert reading.stamp is N
    assert reading.adjustments == adjustments
    assert reading.stated_count == count


@pytest.mark.parametrize("text", [
    "Needs adjustment before we can publish",
    "Needs adjustment in the morning meeting",
])
def test_needs_adjustment_in_a_sentence_is_not_a_stamp(text: str,
                                                       vocabulary: Vocabulary) -> None:
    assert top_stamp(text, vocabulary) is None


# ---------------------------------------------------------------------------------------
# The Subject and the X-Stamp header.

SUBJECTS = [
    ("[CONFIDENTIAL] Case update", C),
    ("Case update [confidential]", C),
    ("(Internal) budget", I),
    ("Internal: budget for 2025", I),
    ("Internal - budget", I),
    ("Re: [Internal] budget", I),
    ("RE: FW: [Cleared for publication] story", K),
    ("Re: Re: Internal: x", I),
    ("AW: WG: [Confidential] Fall 12", C),
    ("Fwd: Confidential - case 12", C),
    ("Case 12 - Confidential", C),
    ("Case 12 | Internal", I),
    ("[Internal] [Confidential] both", C),
    ("[Cleared] story [Internal]", I),
    ("[EXT] Internal: budget", I),
    ("Re: [staff-list] Re: Confidential - case 12", C),
    ("Fwd: [Case 12] Confidential", C),
    ("【ＣＯＮＦＩＤＥＮＴＩＡＬ】 Case", C),
    ("[Сonfidential] Case", C),  # Cyrillic С
    ("Internal audit starts Monday", None),
    ("Confidential case update", None),
    ("Our internal processes", None),
    ("Meeting notes - internal audit", None),
    ("", None),
]


@pytest.mark.parametrize(("subject", "expected"), SUBJECTS, ids=[repr(s) for s, _ in SUBJECTS])
def test_subject_stamps(subject: str, expected: Stamp | None, vocabulary: Vocabulary) -> None:
    found = read_subject(subject, vocabulary)
    best = max(found, key=lambda f: f.stamp.rank, default=None)
    assert (best.stamp if best else None) is expected
    assert all(f.location is Location.SUBJECT for f in found)


@pytest.mark.parametrize(("header", "expected"), [
    ("X-Stamp: internal", I),
    ("X-Stamp: Confidential", C),
    ("X-Stamp: cleared", K),
    ("X-Stamp: needs_adjustment", N),
    ("X-Stamp: =?utf-8?b?Q29uZmlkZW50aWFs?=", C),
])
def test_x_stamp_header(header: str, expected: Stamp, vocabulary: Vocabulary) -> None:
    reading = reading_of(raw(f"Subject: hello\n{header}", "Hello Bob\n"), vocabulary)
    assert reading.stamp is expected
    assert reading.where == (Location.HEADER,)
    assert reading.unreadable == ()


def test_x_stamp_with_an_unknown_value_is_unreadable(vocabulary: Vocabulary) -> None:
    reading = reading_of(raw("Subject: hello\nX-Stamp: top-secret-ish", "Hello\n"), vocabulary)
    assert reading.stamp is None
    assert reading.unreadable


# ---------------------------------------------------------------------------------------
# Where: plain top text, visible HTML, every alternative; the most restrictive wins.

def test_plain_text_top_line(vocabulary: Vocabulary) -> None:
    reading = reading_of(plain("Internal\n\nHello Bob"), vocabulary)
    assert reading.stamp is I
    assert reading.where == (Location.BODY,)


HTML_CASES = [
    ("<p>Internal</p><p>Hello</p>", I),
    ("<div>&nbsp;</div><div><b>CONFIDENTIAL</b></div><div>Hello</div>", C),
    ("<p>Con<b>fiden</b>tial</p><p>x</p>", C),
    ("<p>&#67;onfidential</p>", C),
    ("<html><head><title>Cleared</title><style>p {}</style></head>"
     "<body><p>Internal</p></body></html>", I),
    ("<span style='display:none'>Cleared for publication</span><p>Internal</p>", I),
    ("<p style='font-size: 0.9em'>Confidential</p><p>x</p>", C),  # small is not hidden
    ("<p style='opacity:0.8'>Internal</p>", I),
    ("<table><tr><td>Confidential</td><td>case 12</td></tr></table>", C),
    ("<p>Hello Bob</p><p>Confidential</p>", None),
    ("<!-- Confidential --><p>Hello</p>", None),
]


@pytest.mark.parametrize(("markup", "expected"), HTML_CASES, ids=[m for m, _ in HTML_CASES])
def test_visible_text_of_html(markup: str, expected: Stamp | None,
                              vocabulary: Vocabulary) -> None:
    reading = reading_of(html(markup), vocabulary)
    assert reading.stamp is expected
    if expected is not None:
        assert reading.where == (Location.HTML,)


@pytest.mark.parametrize(("text", "markup", "expected", "where"), [
    ("Internal\nHello", "<p>Hello</p>", I, (Location.BODY,)),
    ("Hello", "<p>Confidential</p><p>Hello</p>", C, (Location.HTML,)),
    ("Cleared for publication\nHello", "<p>Confidential</p>", C, (Location.HTML,)),
    ("Confidential\nHello", "<p>Cleared for publication</p>", C, (Location.BODY,)),
    ("Internal\nHello", "<p>Internal</p>", I, (Location.BODY, Location.HTML)),
])
def test_every_alternative_counts(text: str, markup: str, expected: Stamp,
                                  where: tuple[Location, ...], vocabulary: Vocabulary) -> None:
    reading = reading_of(alternative(text, markup), vocabulary)
    assert reading.stamp is expected
    assert reading.where == where


@pytest.mark.parametrize(("body", "subject", "header", "expected", "where"), [
    ("Cleared for publication\nx", "[Internal] x", "", I, (Location.SUBJECT,)),
    ("Confidential\nx", "[Cleared] x", "", C, (Location.BODY,)),
    ("Cleared\nx", "Cleared: x", "X-Stamp: internal", I, (Location.HEADER,)),
    ("Internal\nx", "[Confidential] x", "X-Stamp: internal", C, (Location.SUBJECT,)),
    ("Needs adjustment: blur face\nx", "[Cleared] x", "", N, (Location.BODY,)),
    ("Hello", "[Internal] x", "", I, (Location.SUBJECT,)),
])
def test_most_restrictive_wins(body: str, subject: str, header: str, expected: Stamp,
                               where: tuple[Location, ...], vocabulary: Vocabulary) -> None:
    headers = f"Subject: {subject}\nContent-Type: text/plain; charset=utf-8"
    if header:
        headers += "\n" + header
    reading = reading_of(raw(headers, body), vocabulary)
    assert reading.stamp is expected
    assert reading.where == where


# ---------------------------------------------------------------------------------------
# Transfer encodings and charsets.

TEXT = "Confidential - do not forward\nDéjà vu: the client's story."
CHARSETS = ["utf-8", "utf-16", "utf-16-le", "windows-1252", "iso-8859-15", "iso-2022-jp",
            "koi8-r", "latin-1"]


@pytest.mark.parametrize("encoding", ["8bit", "base64", "quoted-printable"])
@pytest.mark.parametrize("charset", CHARSETS)
def test_every_charset_and_transfer_encoding(charset: str, encoding: str,
                                             vocabulary: Vocabulary) -> None:
    text = "Confidential\n日本語の本文" if charset == "iso-2022-jp" else TEXT
    body = text.encode(charset, errors="replace")
    reading = reading_of(encoded(body, charset, encoding), vocabulary)
    assert reading.stamp is C
    assert reading.unreadable == ()


def test_quoted_printable_soft_break_inside_the_word(vocabulary: Vocabulary) -> None:
    data = raw("Subject: x\nContent-Type: text/plain; charset=utf-8\n"
               "Content-Transfer-Encoding: quoted-printable",
               "Confi=\r\ndential\r\n\r\nHello=20Bob\r\n")
    assert reading_of(data, vocabulary).stamp is C


def test_quoted_printable_nbsp_and_zero_width(vocabulary: Vocabulary) -> None:
    data = raw("Subject: x\nContent-Type: text/plain; charset=utf-8\n"
               "Content-Transfer-Encoding: quoted-printable",
               "=EF=BB=BF=C2=A0Inter=E2=80=8Bnal=C2=A0\r\nHello\r\n")
    assert reading_of(data, vocabulary).stamp is I


def test_base64_html_with_cyrillic_confusable(vocabulary: Vocabulary) -> None:
    data = html("<p>\u0421onfidential</p><p>Привет</p>", cte="base64")
    assert b"Content-Transfer-Encoding: base64" in data
    assert reading_of(data, vocabulary).stamp is C


def test_raw_utf8_subject_with_fullwidth_stamp(vocabulary: Vocabulary) -> None:
    data = raw("Subject: [ＩＮＴＥＲＮＡＬ] café", "Hello\n")
    assert reading_of(data, vocabulary).stamp is I


def test_latin1_subject_bytes(vocabulary: Vocabulary) -> None:
    data = b"Subject: [Internal] caf\xe9\r\n\r\nHello\r\n"
    reading = reading_of(data, vocabulary)
    assert reading.stamp is I


def test_eight_bit_garbage_is_read_without_error(vocabulary: Vocabulary) -> None:
    data = (b"Subject: \xff\xfe\x80 hi\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            b"\xff\xfe\x00\x80\x81\r\nInternal\r\n")
    reading = reading_of(data, vocabulary)
    # Windows-1252 letters on the first line, not a stamp; a client that detects GB18030
    # draws only replacement marks there, and Internal below them is its top.
    assert reading.stamp is I
    assert reading_of(data.replace(b"Internal", b"Cleared for publication"),
                      vocabulary).stamp is None


def test_unknown_charset_falls_back(vocabulary: Vocabulary) -> None:
    data = raw("Subject: x\nContent-Type: text/plain; charset=no-such-charset", "Internal\n")
    assert reading_of(data, vocabulary).stamp is I


# ---------------------------------------------------------------------------------------
# Unreadable content is listed (and never a stamp).

def test_readable_message_has_no_unreadable(vocabulary: Vocabulary) -> None:
    assert reading_of(plain("Internal\nHello"), vocabulary).unreadable == ()


def test_unreadable_parts_are_listed(vocabulary: Vocabulary) -> None:
    data = raw('Subject: x\nContent-Type: multipart/encrypted; '
               'protocol="application/pgp-encrypted"; boundary="B"',
               "--B\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n"
               "--B\nContent-Type: application/octet-stream\n\n"
               "-----BEGIN PGP MESSAGE-----\nhQEMA\n-----END PGP MESSAGE-----\n--B--\n")
    reading = reading_of(data, vocabulary)
    assert reading.stamp is None
    assert any("encrypted" in reason for reason in reading.unreadable)


# ---------------------------------------------------------------------------------------
# The vocabulary comes from the policy, so an office can add its own languages.

OFFICE = Vocabulary({
    Stamp.CLEARED: ["Autorisé pour publication"],
    Stamp.NEEDS_ADJUSTMENT: ["À adapter"],
    Stamp.INTERNAL: ["Interne", "داخلي"],
    Stamp.CONFIDENTIAL: ["Confidentiel", "سري"],
})


@pytest.mark.parametrize(("text", "expected"), [
    ("Confidentiel", C),
    ("CONFIDENTIEL – ne pas transférer", C),
    ("Interne et confidentiel", C),
    ("Autorisé pour publication", K),
    ("Autorise pour publication", None),  # accents are kept: another word
    ("À adapter en 2 points : flouter le visage, changer le nom", N),
    ("سري", C),
    ("سرّي", C),  # with a shadda (harakat are ignored)
    ("داخلـــي", I),  # with tatweel
    ("سري، لا تعيد التوجيه", C),  # Arabic comma before the trailer
    ("Internal", I),  # the stamp's own name always works
    ("Confidential", C),
    ("Interne audit", None),
])
def test_office_vocabulary(text: str, expected: Stamp | None) -> None:
    assert top_stamp(text, OFFICE) is expected


def test_office_vocabulary_reads_french_adjustments() -> None:
    (finding,) = read_top_text("À adapter en 2 points : flouter le visage, changer le nom",
                               OFFICE, Location.BODY)
    assert finding.stated_count == 2
    assert finding.adjustments == ("flouter le visage", "changer le nom")


def test_a_reader_failure_fails_closed_whatever_the_subject_says(
        vocabulary: Vocabulary, monkeypatch: pytest.MonkeyPatch) -> None:
    # A bug in a reader must not let a Cleared Subject vouch for a body nobody read: the
    # message is unreadable and unstamped, as when a read runs out of time.
    def broken(self: object, root: object) -> None:
        raise RecursionError

    monkeypatch.setattr("gateway.core.message.Walker.walk", broken)
    data = raw("Subject: Cleared for publication", "Confidential\n")
    reading = reading_of(data, vocabulary)
    assert reading.stamp is None
    assert reading.unreadable == ("MIME structure could not be walked (RecursionError)",)
    with_internal = raw("Subject: Internal", "x\n")
    assert reading_of(with_internal, vocabulary).stamp is I  # stricter stamps still count
