"""Embedded content: quoted replies, attributions, inline forwards and attached messages."""

from __future__ import annotations

import time
from typing import Any

import pytest

from gateway.core.message import MAX_DEPTH, read_message
from gateway.core.model import Location, Stamp
from gateway.core.stamps import StampReading, Vocabulary, read_stamps
from tests.core.mail import alternative, html, plain, with_attached

C = Stamp.CONFIDENTIAL
I = Stamp.INTERNAL  # noqa: E741
N = Stamp.NEEDS_ADJUSTMENT
K = Stamp.CLEARED
Q = Location.QUOTED
F = Location.FORWARDED
A = Location.ATTACHED

Found = set[tuple[Stamp, Location, int]]


def read(data: bytes, vocabulary: Vocabulary) -> StampReading:
    return read_stamps(read_message(data), vocabulary)


def embedded(reading: StampReading) -> Found:
    return {(f.stamp, f.location, f.depth) for f in reading.embedded}


QUOTES: list[tuple[str, str, Stamp | None, Found]] = [
    ("quoted block",
     "Cleared for publication\n\nThanks!\n\n> Confidential\n> The client lives in X.\n",
     K, {(C, Q, 1)}),
    ("quote markers without a space",
     "Cleared\n\n>Internal\n>text\n", K, {(I, Q, 1)}),
    ("only the first non-blank line of the block",
     "Cleared\n\n> Hello\n> Confidential\n", K, set()),
    ("blank quoted lines before the top",
     "Cleared\n\n>\n>   \n> Internal\n", K, {(I, Q, 1)}),
    ("nested quotes, each block read",
     "Cleared\n\n> Internal\n> reply\n>> Confidential\n>> original\n", K, {(I, Q, 1), (C, Q, 2)}),
    ("nested quotes written with spaces",
     "Cleared\n\n> > Confidential\n> > original\n", K, {(C, Q, 2)}),
    ("two separate quoted blocks",
     "Internal\n\n> Cleared\n> a\n\nmy answer\n\n> Confidential\n> b\n", I, {(K, Q, 1), (C, Q, 1)}),
    ("interleaved answers: back in the outer text is not a new top",
     "Internal\n> question\nConfidential\n> another question\n", I, set()),
    ("a quoted line is never the message's own stamp",
     "> Confidential\n> secret\n\nHere is my summary.\n", None, {(C, Q, 1)}),
    ("bottom posting: attribution first, so no own stamp",
     "On Mon, Bob wrote:\n> Confidential\n> x\n\nConfidential\nmy reply\n", None, {(C, Q, 1)}),
    ("decoration is not a quote",
     ">> CONFIDENTIAL <<\nHello\n", C, set()),
    ("stamp in the middle of a quote is not a stamp",
     "Cleared\n\n> Hi Bob,\n> this is confidential.\n", K, set()),
    ("consecutive stamp lines at the top of a quote",
     "Cleared\n\n> Internal\n> Confidential\n> x\n", K, {(I, Q, 1), (C, Q, 1)}),
]

ATTRIBUTIONS: list[tuple[str, str, Stamp | None, Found]] = [
    ("English attribution, then quote markers",
     "Cleared\n\nOn Mon, 1 Jan 2024 at 10:00, Bob <bob@example.org> wrote:\n> Confidential\n",
     K, {(C, Q, 1)}),
    ("English attribution without quote markers",
     "Cleared\n\nOn Mon, 1 Jan 2024 at 10:00, Bob <bob@example.org> wrote:\n\nConfidential\nx\n",
     K, {(C, Q, 1)}),
    ("attribution wrapped over two lines",
     "Cleared\n\nOn Mon, 1 Jan 2024 at 10:00 AM Bob Smith <\nbob@example.org> wrote:\n\n"
     "Internal\nx\n", K, {(I, Q, 1)}),
    ("French attribution",
     "Cleared\n\nLe lun. 1 janv. 2024 à 10:00, Bob <bob@example.org> a écrit :\n\nConfidential\n",
     K, {(C, Q, 1)}),
    ("French attribution with a no-break space before the colon",
     "Cleared\n\nLe lun. 1 janv. 2024, Bob a écrit\u00a0:\nInternal\n", K, {(I, Q, 1)}),
    ("Spanish attribution",
     "Cleared\n\nEl lun, 1 ene 2024 a las 10:00, Bob (<bob@example.org>) escribió:\nInternal\n",
     K, {(I, Q, 1)}),
    ("German attribution",
     "Cleared\n\nAm 01.01.2024 um 10:00 schrieb Bob <bob@example.org>:\nConfidential\n",
     K, {(C, Q, 1)}),
    ("Arabic attribution",
     "Cleared\n\nفي الأحد، 1 يناير 2024 في 10:00 ص كتب Bob <bob@example.org>:\nInternal\n",
     K, {(I, Q, 1)}),
    ("Portuguese attribution",
     "Cleared\n\nEm seg., 1 de jan. de 2024, Bob escreveu:\nInternal\n", K, {(I, Q, 1)}),
    ("attribution inside a quote",
     "Cleared\n\n> Internal\n> On Sun, Carol wrote:\n> Confidential\n", K, {(I, Q, 1), (C, Q, 2)}),
]

FORWARDS: list[tuple[str, str, Stamp | None, Found]] = [
    ("Gmail forward: header block skipped, Subject read",
     "Cleared for publication\n\n---------- Forwarded message ---------\n"
     "From: Bob <bob@example.org>\nDate: Mon, 1 Jan 2024 at 10:00\n"
     "Subject: [Internal] case 12\nTo: Alice <alice@example.org>\n\n\nConfidential\nbody\n",
     K, {(I, F, 1), (C, F, 1)}),
    ("Outlook original message",
     "Cleared\n\n-----Original Message-----\nFrom: Bob\nSent: Monday, January 1, 2024 10:00\n"
     "To: Alice\nSubject: RE: case\n\nConfidential\n", K, {(C, F, 1)}),
    ("Apple Mail forward",
     "Begin forwarded message:\n\nFrom: Bob <bob@example.org>\nSubject: case\n"
     "Date: 1 January 2024\nTo: Alice\n\nInternal\nbody\n", None, {(I, F, 1)}),
    ("Thunderbird forward with a wrapped recipient list",
     "Cleared\n\n-------- Forwarded Message --------\nSubject: \tcase\nDate: \tMon\n"
     "From: \tBob\nTo: \tAlice <alice@example.org>, Carol\n<carol@example.org>\n\n\n\n"
     "Internal\n", K, {(I, F, 1)}),
    ("forward without a blank line after the headers",
     "Cleared\n\n---------- Forwarded message ---------\nFrom: Bob\nSubject: x\nConfidential\n",
     K, {(C, F, 1)}),
    ("forward with no header block",
     "Cleared\n\n---------- Forwarded message ---------\n\nInternal\n", K, {(I, F, 1)}),
    ("French forward (Gmail)",
     "Cleared\n\n---------- Message transféré ---------\nDe : Bob <bob@example.org>\n"
     "Date : lun. 1 janv. 2024\nObjet : [Confidential] dossier\nÀ : Alice\n\nInternal\n",
     K, {(C, F, 1), (I, F, 1)}),
    ("French forward (Thunderbird)",
     "Cleared\n\n-------- Message transféré --------\nSujet : dossier\nDe : Bob\n\nConfidential\n",
     K, {(C, F, 1)}),
    ("Spanish forward",
     "Cleared\n\n---------- Mensaje reenviado ---------\nDe: Bob\nFecha: lun\n"
     "Asunto: Internal: caso\nPara: Alice\n\nhola\n", K, {(I, F, 1)}),
    ("German forward",
     "Cleared\n\n---------- Weitergeleitete Nachricht ----------\nVon: Bob\nDatum: Mo\n"
     "Betreff: Fall\nAn: Alice\n\nConfidential\n", K, {(C, F, 1)}),
    ("Outlook reply header without a marker",
     "Cleared\n\n________________________________\nFrom: Bob <bob@example.org>\n"
     "Sent: Monday, 1 January 2024 10:00\nTo: Alice\nSubject: case\n\nInternal\n",
     K, {(I, F, 1)}),
    ("forward inside a forward",
     "Cleared\n\n---------- Forwarded message ---------\nFrom: Bob\nSubject: one\n\n"
     "Internal\nsee below\n\n-----Original Message-----\nFrom: Carol\nSent: Sun\n"
     "Subject: [Confidential] two\n\nStrictly confidential\nsecret\n",
     K, {(I, F, 1), (C, F, 2)}),
    ("quote inside a forward",
     "Cleared\n\n---------- Forwarded message ---------\nFrom: Bob\nSubject: x\n\n"
     "Internal\n\nOn Sun, Carol wrote:\n> Confidential\n", K, {(I, F, 1), (C, Q, 2)}),
    ("forward inside a quote",
     "Cleared\n\n> Internal\n> ---------- Forwarded message ---------\n> From: Bob\n"
     "> Subject: x\n>\n> Confidential\n", K, {(I, Q, 1), (C, F, 2)}),
    ("the forwarded top is its first non-blank line only",
     "Cleared\n\n---------- Forwarded message ---------\nFrom: Bob\nSubject: x\n\n"
     "Hello Carol,\nConfidential\n", K, set()),
    # Nor the end of the top's stamp lines: a reader sees both stamps above the text.
    ("a dashed line that is not a forward marker",
     "Cleared\n\n----------\nConfidential\n", C, set()),
    ("a dashed line, then the text",
     "Cleared\n\n----------\nHello\nConfidential\n", K, set()),
]


def _table(*tables: list[tuple[str, str, Stamp | None, Found]]) -> list[Any]:
    return [pytest.param(body, own, found, id=name)
            for table in tables for name, body, own, found in table]


@pytest.mark.parametrize(("body", "own", "found"), _table(QUOTES, ATTRIBUTIONS, FORWARDS))
def test_embedded_stamps(body: str, own: Stamp | None, found: Found,
                         vocabulary: Vocabulary) -> None:
    reading = read(plain(body, subject="Case update"), vocabulary)
    assert reading.stamp is own
    assert embedded(reading) == found
    assert all(f.depth == 0 for f in reading.own)


def test_html_blockquote_is_a_quoted_block(vocabulary: Vocabulary) -> None:
    markup = ("<div>Cleared for publication</div><div>Thanks</div>"
              "<div class='gmail_quote'><div>On Mon, Bob wrote:<br></div>"
              "<blockquote><div>Internal</div><div>x</div>"
              "<blockquote><p>Confidential</p></blockquote></blockquote></div>")
    reading = read(html(markup), vocabulary)
    assert reading.stamp is K
    assert embedded(reading) == {(I, Q, 1), (C, Q, 2)}


def test_outlook_html_reply_header(vocabulary: Vocabulary) -> None:
    markup = ("<p>Cleared</p><div id='divRplyFwdMsg'><hr>"
              "<b>From:</b> Bob &lt;bob@example.org&gt;<br><b>Sent:</b> Monday<br>"
              "<b>To:</b> Alice<br><b>Subject:</b> [Internal] case</div>"
              "<div><p>Confidential</p><p>secret</p></div>")
    reading = read(html(markup), vocabulary)
    assert embedded(reading) == {(I, F, 1), (C, F, 1)}


def test_both_alternatives_are_searched_and_findings_are_not_repeated(
        vocabulary: Vocabulary) -> None:
    text = "Cleared\n\nOn Mon, Bob wrote:\n> Confidential\n"
    markup = "<p>Cleared</p><p>On Mon, Bob wrote:</p><blockquote>Confidential</blockquote>"
    reading = read(alternative(text, markup), vocabulary)
    assert [(f.stamp, f.location, f.depth) for f in reading.embedded] == [(C, Q, 1)]


def test_attached_message_stamps(vocabulary: Vocabulary) -> None:
    inner = plain("Confidential\nsecret\n\n> Internal\n", subject="[Confidential] original")
    reading = read(with_attached("Cleared for publication\nsee attached", inner), vocabulary)
    assert reading.stamp is K
    assert embedded(reading) == {(C, A, 1), (I, Q, 2)}


def test_attached_inside_attached(vocabulary: Vocabulary) -> None:
    innermost = plain("Confidential\nsecret")
    middle = with_attached("Internal\nsee attached", innermost, subject="middle")
    reading = read(with_attached("Cleared\nx", middle), vocabulary)
    assert embedded(reading) == {(I, A, 1), (C, A, 2)}


def test_adjustments_of_embedded_content_are_kept_apart(vocabulary: Vocabulary) -> None:
    body = "Internal\n\n> Needs adjustment in 2 ways:\n> - blur face\n> - change name\n"
    reading = read(plain(body), vocabulary)
    assert reading.stamp is I
    assert reading.adjustments == ()
    (finding,) = reading.embedded
    assert (finding.stamp, finding.adjustments, finding.stated_count) == (
        N, ("blur face", "change name"), 2)


def test_deep_quotes_are_still_read_and_reported_at_the_bound(vocabulary: Vocabulary) -> None:
    body = "Cleared\n\n" + "".join(">" * level + f" Hello {level}\n" for level in range(1, 9))
    body += ">" * 9 + " Confidential\n"
    reading = read(plain(body), vocabulary)
    assert embedded(reading) == {(C, Q, MAX_DEPTH)}


def test_deep_forwards_are_still_read(vocabulary: Vocabulary) -> None:
    forward = "---------- Forwarded message ---------\nFrom: Bob\nSubject: x\n\nHello\n"
    body = "Cleared\n\n" + forward * 8 + "---------- Forwarded message ---------\n\nInternal\n"
    reading = read(plain(body), vocabulary)
    assert embedded(reading) == {(I, F, MAX_DEPTH)}


@pytest.mark.parametrize("line", [
    ">" * 50_000 + " Confidential",
    "> " * 20_000 + "x",
    "On " + "x " * 50_000 + "wrote:",
    "From: " + "a" * 100_000,
])
def test_pathological_lines_stay_cheap(line: str, vocabulary: Vocabulary) -> None:
    body = "Cleared\n\n" + "\n".join([line] * 20) + "\n"
    started = time.perf_counter()
    read(plain(body), vocabulary)
    assert time.perf_counter() - started < 5


def test_large_threads_are_read_in_linear_time(vocabulary: Vocabulary) -> None:
    block = ("On Mon, Bob wrote:\n> Hello\n> ---------- Forwarded message ---------\n"
             "> From: Carol\n> Subject: x\n>\n> Internal\n>> quoted\n\nplain text line\n")
    small = plain("Cleared\n\n" + block * 200)
    large = plain("Cleared\n\n" + block * 4000)
    timings = []
    for data in (small, large):
        facts = read_message(data)
        started = time.perf_counter()
        reading = read_stamps(facts, vocabulary)
        timings.append(time.perf_counter() - started)
        assert (I, F, 2) in embedded(reading)
    # 20 times the text: allow up to 60 times the time, far from quadratic (400 times).
    assert timings[1] < max(timings[0], 0.001) * 60


@pytest.mark.parametrize("forward", [
    "-----Исходное сообщение-----\nОт: Bob <bob@example.org>\nОтправлено: 1 января 2024\n"
    "Кому: Alice\nТема: Семья К.\n",
    "---------- Пересылаемое сообщение ---------\nОт: Bob <bob@example.org>\nDate: пн\n",
    "-----Orijinal ileti-----\nKimden: Bob\nGönderildi: 1 Ocak 2024\nKime: Alice\nKonu: Aile\n",
    "Bob <bob@example.org>, 1 Oca 2024 Pzt, 10:00 tarihinde şunu yazdı:\n",
    "-----پیام اصلی-----\nاز: Bob\nارسال شد: ۱ ژانویه\nبه: Alice\nموضوع: خانواده\n",
    "-----Ursprungligt meddelande-----\nFrån: Bob\nSkickat: den 1 januari\nTill: Alice\n",
    "-----Wiadomość oryginalna-----\nOd: Bob\nWysłano: 1 stycznia\nDo: Alice\nTemat: K.\n",
    "Bob <bob@example.org> написал:\n",
], ids=["ru-outlook", "ru-gmail", "tr-outlook", "tr-attribution", "fa-outlook", "sv-outlook",
        "pl-outlook", "ru-attribution"])
def test_a_forward_in_the_organisation_s_languages_is_embedded(
        forward: str, vocabulary: Vocabulary) -> None:
    body = f"Cleared for publication\n\nSee below.\n\n{forward}\nConfidential\n\nNames: A. K.\n"
    reading = read(plain(body, subject="Case update"), vocabulary)
    assert reading.stamp is K
    assert C in {f.stamp for f in reading.embedded}
