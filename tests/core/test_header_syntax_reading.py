"""Header syntax a client reads past: comments in a type, white space in it, a field twice."""

from __future__ import annotations

import base64

import pytest

from gateway.core.headers import read_header_block
from gateway.core.message import header_text, read_message
from gateway.core.mime_entity import entity, uncommented
from gateway.core.model import Location, Stamp
from gateway.core.register import ClientField, Where
from gateway.core.stamps import Vocabulary
from gateway.service.reading import read_now
from tests.core.mail import raw
from tests.core.register_clients import INDEX

HIDDEN_CLEARED = "<!--Cleared for publication-->\n<div>Confidential</div>\n"


@pytest.mark.parametrize("content_type", [
    "text/html (plain); charset=utf-8",
    "text/html(plain)",
    "text/html (a (nested) comment \\) here); charset=utf-8",
    "text / html; charset=utf-8",
    "TEXT/HTML (x)",
    '"text/html"; charset=utf-8',
])
def test_a_comment_or_white_space_in_the_type_leaves_it_html(
        vocabulary: Vocabulary, content_type: str) -> None:
    data = raw(f"Subject: x\nContent-Type: {content_type}", HIDDEN_CLEARED)
    read = read_now(data, vocabulary)
    assert read.reading.stamp is Stamp.CONFIDENTIAL
    assert {t.location for t in read.facts.top_texts} == {Location.HTML}


@pytest.mark.parametrize(("value", "expected"), [
    ("text/html (plain)", "text/html  "),
    ('"a (b)" (c)', '"a (b)"  '),
    ("a (b \\) c) d", "a   d"),
    ("a (b (c) d) e", "a   e"),
    ("a \\(b)", "a \\ "),  # outside a comment or quotes a backslash escapes nothing
    ("no comment", "no comment"),
    ("a (unclosed", "a "),
])
def test_uncommented(value: str, expected: str) -> None:
    assert uncommented(value) == expected


def test_a_comment_in_the_disposition_leaves_it_an_attachment() -> None:
    part = entity(b"Content-Type: text/plain\r\nContent-Disposition: attachment (x);"
                  b" filename=a.txt\r\n\r\nConfidential\r\n")
    assert part.disposition == "attachment"
    assert part.filename == "a.txt"


@pytest.mark.parametrize(("first", "second"), [
    ("Cleared for publication", "Confidential"),
    ("Confidential", "Cleared for publication"),
])
def test_every_subject_field_counts(vocabulary: Vocabulary, first: str, second: str) -> None:
    data = raw(f"Subject: {first}\nSubject: {second}\nContent-Type: text/plain", "Hello\n")
    assert read_now(data, vocabulary).reading.stamp is Stamp.CONFIDENTIAL


def test_the_register_reads_every_subject_field() -> None:
    facts = read_message(raw("Subject: Case update\nSubject: about Amina Haddad\n"
                             "Content-Type: text/plain", "Hello\n"))
    assert facts.subject == "Case update"
    assert facts.other_subjects == ("about Amina Haddad",)
    assert {(hit.field, hit.where) for hit in INDEX.scan(facts)} == {
        (ClientField.NAME, Where.SUBJECT)}


@pytest.mark.parametrize("types", [
    ("text/plain", "text/html"),
    ("text/html", "text/plain"),
])
def test_two_content_types_are_read_both_ways(vocabulary: Vocabulary,
                                              types: tuple[str, str]) -> None:
    """A part with two Content-Type fields: clients differ in the one they read."""
    data = raw(f"Subject: x\nContent-Type: {types[0]}\nContent-Type: {types[1]}",
               HIDDEN_CLEARED)
    read = read_now(data, vocabulary)
    assert read.reading.stamp is Stamp.CONFIDENTIAL
    assert {t.location for t in read.facts.top_texts} == {Location.BODY, Location.HTML}


def test_the_same_content_type_twice_is_one_reading() -> None:
    part = entity(b"Content-Type: text/plain\r\nContent-Type: TEXT/PLAIN\r\n\r\nHello\r\n")
    assert part.retyped() == []


@pytest.mark.parametrize(("value", "text"), [
    ("=?utf-8?q?Fallakte_12?= – Confidential", "Fallakte 12 – Confidential"),
    ("=?utf-8?q?Re:?= [Сonfidential] family", "Re: [Сonfidential] family"),
    ("=?utf-8?q?Con?= =?utf-8?q?fidential?=", "Confidential"),  # the space between goes
    ("a =?utf-8?b?Q29uZmlkZW50aWFs?= b", "a Confidential b"),
    ("=?iso-8859-1?q?Caf=E9?= \\u0043", "Café \\u0043"),  # a backslash stays a backslash
    ("=?utf-8?b?!!!?= x", "=?utf-8?b?!!!?= x"),  # not base64: shown as written
    ("=?UTF-8*en?Q?Internal?=", "Internal"),  # RFC 2231 language tag
])
def test_encoded_words_beside_raw_text(value: str, text: str) -> None:
    assert header_text(value) == text


def test_a_raw_stamp_beside_an_encoded_word_counts(vocabulary: Vocabulary) -> None:
    data = raw("Subject: =?utf-8?q?Fallakte_12?= – Confidential\nContent-Type: text/plain",
               "Hello\n")
    assert read_now(data, vocabulary).reading.stamp is Stamp.CONFIDENTIAL


@pytest.mark.parametrize("content_type", [
    'multipart/mixed; boundary="x"; boundary*=\'\'y',
    'multipart/mixed; boundary*=\'\'y; boundary="x"',
])
def test_a_boundary_given_twice_is_read_with_each(vocabulary: Vocabulary,
                                                  content_type: str) -> None:
    body = ("--y\nContent-Type: text/plain\n\nConfidential\n\nNames\n"
            "--x\nContent-Type: text/plain\n\nCleared for publication\n--x--\n--y--\n")
    data = raw(f"Subject: x\nContent-Type: {content_type}", body)
    assert read_now(data, vocabulary).reading.stamp is Stamp.CONFIDENTIAL


def test_a_charset_given_twice_is_read_with_each(vocabulary: Vocabulary) -> None:
    data = (b"Subject: x\r\nContent-Type: text/plain; charset=us-ascii; charset*=''utf-16le"
            b"\r\n\r\n" + "Confidential\r\n\r\nNames\r\n".encode("utf-16-le"))
    assert read_now(data, vocabulary).reading.stamp is Stamp.CONFIDENTIAL
    assert entity(data).param("charset") == "utf-16le"  # the RFC 2231 one, as Thunderbird


@pytest.mark.parametrize("line", [" ", "\t", "  \t "])
def test_a_line_of_white_space_in_the_header_block_is_ambiguous(line: str) -> None:
    """Read as a continuation here; a client that takes it for the empty line shows the
    fields after it as the body: the edge refuses such a message (550 5.6.0)."""
    data = (f"Subject: Cleared for publication\r\n{line}\r\nClassification: Confidential\r\n"
            "\r\nHello\r\n").encode()
    assert read_header_block(data).ambiguous == (
        "a line of only white space inside the header block")


def test_a_folded_field_is_not_ambiguous() -> None:
    data = b"Subject: Case\r\n update\r\nTo: a@example.org\r\n\r\nHello\r\n"
    assert read_header_block(data).ambiguous is None


def test_two_transfer_encodings_are_read_both_ways(vocabulary: Vocabulary) -> None:
    body = base64.b64encode(b"Confidential\r\n\r\nNames\r\n").decode()
    data = raw("Subject: Cleared for publication\nContent-Type: text/plain\n"
               "Content-Transfer-Encoding: 7bit\nContent-Transfer-Encoding: base64", body + "\n")
    assert read_now(data, vocabulary).reading.stamp is Stamp.CONFIDENTIAL


def stamp_of(data: bytes, vocabulary: Vocabulary) -> Stamp | None:
    return read_now(data, vocabulary).reading.stamp


def test_outlook_company_confidential_sensitivity_is_a_confidential_stamp(
        vocabulary: Vocabulary) -> None:
    # Outlook shows "Please treat this as Confidential." above the message.
    body = "Cleared for publication\n\nThe story."
    assert stamp_of(raw("Subject: x\nSensitivity: Company-Confidential", body),
                    vocabulary) is Stamp.CONFIDENTIAL
    for value in ("Personal", "Private", "Normal"):
        assert stamp_of(raw(f"Subject: x\nSensitivity: {value}", body),
                        vocabulary) is Stamp.CLEARED, value


@pytest.mark.parametrize(("charset", "word"), [
    ("windows-1251", "Конфиденциально"), ("koi8-r", "Конфиденциально"),
    ("windows-1256", "سري"),
])
def test_a_raw_8bit_subject_is_also_read_in_the_charsets_the_message_names(
        vocabulary: Vocabulary, charset: str, word: str) -> None:
    data = (f"Subject: {word}\r\nContent-Type: text/plain; charset={charset}\r\n\r\n"
            "Cleared for publication\r\n\r\nThe story.\r\n").encode(charset)
    assert stamp_of(data, vocabulary) is Stamp.CONFIDENTIAL
    assert stamp_of(data.replace(word.encode(charset), b"Story"), vocabulary) is Stamp.CLEARED


@pytest.mark.parametrize("subject", [
    "[Cleared for publication: nope] notes", "Cleared for publication: no, pending",
    "Cleared for publication (never)",
])
def test_a_withdrawing_word_before_punctuation_still_withdraws(
        vocabulary: Vocabulary, subject: str) -> None:
    assert stamp_of(raw(f"Subject: {subject}", "The story."), vocabulary) is None


@pytest.mark.parametrize("field", ["X-Message-Flag: Confidential - do not forward",
                                   "Thread-Topic: Confidential: case 12"])
def test_fields_outlook_shows_beside_the_message_are_read_for_stricter_stamps(
        vocabulary: Vocabulary, field: str) -> None:
    body = "Cleared for publication\n\nThe story."
    assert stamp_of(raw(f"Subject: x\n{field}", body), vocabulary) is Stamp.CONFIDENTIAL
    # they never clear: a flag is not the stamp staff write
    cleared = field.replace("Confidential", "Cleared for publication")
    assert stamp_of(raw(f"Subject: x\n{cleared}", "The story."), vocabulary) is None
    assert stamp_of(raw("Subject: x\nX-Message-Flag: Follow up", body),
                    vocabulary) is Stamp.CLEARED
