"""Display rules beyond plain text and HTML: text/enriched, SVG drawn in the body, wrapping."""

from __future__ import annotations

import pytest

from gateway.core.enriched import unenriched
from gateway.core.model import Stamp
from gateway.core.rendering import WRAPPING_RUN, wrapped
from gateway.core.stamps import Vocabulary
from gateway.service.reading import read_now
from tests.core.mail import plain, raw

CLEARED = "Cleared for publication"


@pytest.mark.parametrize(("text", "shown"), [
    ("<bold>Confidential</bold>\n\nHello", "Confidential\nHello"),
    ("Con<italic>fiden</italic>tial", "Confidential"),
    ("<color><param>red</param>Internal</color>", "Internal"),
    ("a <<b> c", "a <b> c"),
    ("one\ntwo", "one two"),
    ("<nofill>one\ntwo</nofill>", "one\ntwo"),
    ("a < b", "a < b"),
])
def test_unenriched(text: str, shown: str) -> None:
    assert unenriched(text) == shown


def test_richtext_breaks_lines_at_nl() -> None:
    assert unenriched("<bold>Internal</bold><nl>Hello\nthere", richtext=True) == (
        "Internal\nHello there")


@pytest.mark.parametrize(("body", "stamp"), [
    ("<bold>Confidential</bold>\n\nHello\n", Stamp.CONFIDENTIAL),
    (f"<bold>{CLEARED}</bold>\n\nHello\n", Stamp.CLEARED),
    ("<x-color><param>1,0,0</param>Internal</x-color>\n\nHello\n", Stamp.INTERNAL),
])
def test_text_enriched_is_read_as_shown(vocabulary: Vocabulary, body: str,
                                        stamp: Stamp) -> None:
    data = raw("Subject: x\nContent-Type: text/enriched", body)
    assert read_now(data, vocabulary).reading.stamp is stamp


SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="300" height="40">'
       '<text x="0" y="30">{}</text></svg>')


def mixed(*parts: str) -> bytes:
    body = "".join(f"--M\n{part}\n" for part in parts) + "--M--\n"
    return raw(f'Subject: {CLEARED}\nContent-Type: multipart/mixed; boundary="M"', body)


def test_an_svg_drawn_above_the_text_counts(vocabulary: Vocabulary) -> None:
    data = mixed("Content-Type: image/svg+xml\n\n" + SVG.format("CONFIDENTIAL"),
                 f"Content-Type: text/plain\n\n{CLEARED}\n\nHello")
    assert read_now(data, vocabulary).reading.stamp is Stamp.CONFIDENTIAL


def test_an_svg_logo_above_the_text_leaves_its_cleared(vocabulary: Vocabulary) -> None:
    data = raw('Subject: x\nContent-Type: multipart/mixed; boundary="M"',
               "--M\nContent-Type: image/svg+xml\n\n" + SVG.format("Example Legal Aid") +
               f"\n--M\nContent-Type: text/plain\n\n{CLEARED}\n\nHello\n--M--\n")
    assert read_now(data, vocabulary).reading.stamp is Stamp.CLEARED


def test_an_attached_svg_is_not_read_as_the_body(vocabulary: Vocabulary) -> None:
    data = raw('Subject: x\nContent-Type: multipart/mixed; boundary="M"',
               f"--M\nContent-Type: text/plain\n\n{CLEARED}\n\nHello\n"
               "--M\nContent-Type: image/svg+xml\nContent-Disposition: attachment\n\n"
               + SVG.format("Confidential") + "\n--M--\n")
    assert read_now(data, vocabulary).reading.stamp is Stamp.CLEARED


@pytest.mark.parametrize("gap", [" " * 400, "\t" * 40, "\u00a0" * 60, " \u3000" * 30])
def test_a_stamp_a_client_wraps_onto_its_own_line_counts(vocabulary: Vocabulary,
                                                         gap: str) -> None:
    body = f"Confidential{gap}audit notes follow below.\n\nHello"
    assert read_now(plain(body, subject=CLEARED), vocabulary).reading.stamp is (
        Stamp.CONFIDENTIAL)


def test_wrapped() -> None:
    assert wrapped("a" + " " * (WRAPPING_RUN - 1) + "b") is None
    assert wrapped("a" + " " * WRAPPING_RUN + "b") == "a\nb"
    assert wrapped("plain text, short gaps\tand  all") is None


@pytest.mark.parametrize("part", [
    "Content-Type: message/delivery-status\n\nConfidential\n\nReporting-MTA: dns; a\n",
    "Content-Type: message/disposition-notification\n\nInternal\n\nReporting-UA: a\n",
])
def test_a_report_shown_first_is_read_as_text(vocabulary: Vocabulary, part: str) -> None:
    data = raw('Subject: x\nContent-Type: multipart/report; boundary="M"',
               f"--M\n{part}--M\nContent-Type: text/plain\n\n{CLEARED}\n\nHello\n--M--\n")
    assert read_now(data, vocabulary).reading.stamp in (Stamp.CONFIDENTIAL, Stamp.INTERNAL)


def test_message_news_is_an_attached_message(vocabulary: Vocabulary) -> None:
    inner = "Subject: old\nContent-Type: text/plain\n\nConfidential\n\nNames\n"
    data = mixed(f"Content-Type: text/plain\n\n{CLEARED}\n\nSee below",
                 f"Content-Type: message/news\n\n{inner}")
    reading = read_now(data, vocabulary).reading
    assert Stamp.CONFIDENTIAL in {f.stamp for f in reading.embedded}


@pytest.mark.parametrize("subtype", ["watch-html", "x-amp-html"])
def test_html_kin_is_read_as_html(vocabulary: Vocabulary, subtype: str) -> None:
    data = raw('Subject: x\nContent-Type: multipart/alternative; boundary="M"',
               f"--M\nContent-Type: text/plain\n\n{CLEARED}\n"
               f"--M\nContent-Type: text/html\n\n<p>{CLEARED}</p>\n"
               f"--M\nContent-Type: text/{subtype}\n\n<html><body><p>Confidential</p></body>"
               "</html>\n--M--\n")
    assert read_now(data, vocabulary).reading.stamp is Stamp.CONFIDENTIAL


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c"])
def test_a_line_separator_breaks_the_line(vocabulary: Vocabulary, separator: str) -> None:
    body = f"Confidential{separator}The family's names are below.\n\nHello"
    assert read_now(plain(body, subject=CLEARED), vocabulary).reading.stamp is (
        Stamp.CONFIDENTIAL)


@pytest.mark.parametrize("word", [
    "C\x01o\x01n\x01f\x01i\x01d\x01e\x01n\x01t\x01i\x01a\x01l",
    "Inter\x7fnal",
    "Confi\x81dential",
    "🅲🅾🅽🅵🅸🅳🅴🅽🆃🅸🅰🅻",
    "🅒🅞🅝🅕🅘🅓🅔🅝🅣🅘🅐🅛",
    "ᏟᎾNFᏆᎠᎬNᎢᏆᎪᏞ",
    "ꓚꓳꓠꓝꓲꓓꓰꓠꓔꓲꓮꓡ",
    "ᑕOᑎᖴIᗪEᑎTIᗩᒪ",
    "ꓲꓠꓔꓰꓣꓠꓮꓡ",
    "⒞⒪⒩⒡⒤⒟⒠⒩⒯⒤⒜⒧",
])
def test_letters_a_reader_reads_as_the_word(vocabulary: Vocabulary, word: str) -> None:
    stamp = read_now(plain(f"{word}\n\nThe story.", subject=CLEARED), vocabulary).reading.stamp
    assert stamp in (Stamp.CONFIDENTIAL, Stamp.INTERNAL)


def in_mixed(first: str) -> bytes:
    return raw('Subject: Minutes\nContent-Type: multipart/mixed; boundary="M"',
               f"--M\n{first}\n\n{CLEARED}\n\n--M\nContent-Type: text/plain\n\n"
               "Dear colleagues, the minutes with the families' names.\n--M--\n")


@pytest.mark.parametrize("header", [
    'Content-Type: text/plain; charset=utf-8; name="stamp.txt"',
    'Content-Type: text/plain\nContent-Disposition: inline; filename="stamp.txt"',
    "Content-Type: text/csv", "Content-Type: text/x-notes",
])
def test_a_text_part_some_client_lists_as_a_file_does_not_clear(
        vocabulary: Vocabulary, header: str) -> None:
    # Gmail lists a named text part, or one of a type it does not show inline, as an
    # attachment: its reader sees the minutes first, unstamped.
    reading = read_now(in_mixed(header), vocabulary).reading
    assert reading.stamp is None and reading.withheld
    assert read_now(in_mixed("Content-Type: text/plain; charset=utf-8"),
                    vocabulary).reading.stamp is Stamp.CLEARED


def test_a_listed_text_part_is_still_read_for_stricter_stamps(vocabulary: Vocabulary) -> None:
    data = raw('Subject: Cleared for publication\nContent-Type: multipart/mixed; boundary="M"',
               '--M\nContent-Type: text/plain; name="notes.txt"\n\nConfidential\n\n--M--\n')
    assert read_now(data, vocabulary).reading.stamp is Stamp.CONFIDENTIAL


def test_a_calendar_alternative_of_an_invite_does_not_withhold_the_cleared(
        vocabulary: Vocabulary) -> None:
    # Outlook and Google Calendar send the invite as an alternative: shown as an invite.
    data = raw('Subject: Briefing\nContent-Type: multipart/alternative; boundary="A"',
               f"--A\nContent-Type: text/plain\n\n{CLEARED}\n\nPress briefing at 10.\n"
               "--A\nContent-Type: text/calendar; method=REQUEST\n\nBEGIN:VCALENDAR\n"
               "SUMMARY:Press briefing\nEND:VCALENDAR\n--A--\n")
    assert read_now(data, vocabulary).reading.stamp is Stamp.CLEARED
    confidential = data.replace(b"BEGIN:VCALENDAR", b"Confidential\r\nBEGIN:VCALENDAR")
    assert read_now(confidential, vocabulary).reading.stamp is Stamp.CONFIDENTIAL
