"""Charset labels resolved with the WHATWG Encoding Standard, as browsers and clients do."""

from __future__ import annotations

import pytest

from gateway.core.charsets import decode, decode_html, resolve
from gateway.core.message import read_message
from gateway.core.model import Stamp
from gateway.core.stamps import Vocabulary, read_stamps


def message(label: str, body: bytes, subject: bytes = b"x") -> bytes:
    return (b"Subject: " + subject + b"\r\nContent-Type: text/plain; charset=" +
            label.encode() + b"\r\n\r\n" + body)


@pytest.mark.parametrize(("label", "body"), [
    ("unicode", "Confidential\nтайна".encode("utf-16-le")),
    ("x-mac-cyrillic", "Confidential\nтайна".encode("mac-cyrillic")),
    ("latin1", "Confidential — “x”".encode("cp1252")),
    ("ks_c_5601-1987", "Confidential\n비밀".encode("euc-kr")),
    ("\"UTF-16\"", "Confidential".encode("utf-16-le")),
    ("csUnicode", "Confidential".encode("utf-16-le")),
    ("utf-7", "Confidential".encode("utf-7")),
])
def test_labels_browsers_know(label: str, body: bytes, vocabulary: Vocabulary) -> None:
    facts = read_message(message(label, body))
    assert facts.unreadable == ()
    assert read_stamps(facts, vocabulary).stamp is Stamp.CONFIDENTIAL


def test_latin1_is_windows_1252() -> None:
    assert resolve("latin1") == "cp1252" and resolve("ISO-8859-1") == "cp1252"
    assert decode(b"\x93q\x94", "iso-8859-1").text == "“q”"


def test_a_byte_order_mark_overrides_the_label() -> None:
    assert decode("\ufeffInternal".encode("utf-16-be"), "windows-1252").text == "Internal"


@pytest.mark.parametrize("label", ["no-such-charset", "iso-2022-kr", "x-user-defined",
                                   "base64", "rot13"])
def test_unknown_labels_are_unreadable_unless_ascii(label: str) -> None:
    assert read_message(message(label, b"Internal\r\n")).unreadable == ()
    facts = read_message(message(label, "Intérnal".encode("utf-16-le")))
    assert any("charset" in reason for reason in facts.unreadable)


@pytest.mark.parametrize(("subject", "expected"), [
    (b"=?unicode?b?" + __import__("base64").b64encode("[Internal] x".encode("utf-16-le")) + b"?=",
     "[Internal] x"),
    (b"=?x-mac-cyrillic?q?=91=EE=ED=F4=E8=E4=E5=ED=F6=E8=E0=EB=FC=ED=EE?=", "Сонфиденциально"),
    (b"=?latin1?q?Caf=E9_=93x=94?=", "Café “x”"),
])
def test_encoded_words_in_the_subject_use_the_same_table(subject: bytes, expected: str) -> None:
    assert read_message(message("utf-8", b"x", subject)).subject == expected


@pytest.mark.parametrize(("label", "body"), [
    ("iso-2022-kr", b"Cleared for publication\r\n\r\nHello\r\n"),  # U+FFFD in a browser
    ("hz-gb-2312", b"Cleared for publication\r\n\r\nHello\r\n"),
    ("cp037", "Cleared for publication\n\nHello\n".encode("cp037")),  # only Python knows it
])
def test_a_cleared_only_some_clients_can_decode_does_not_clear(
        label: str, body: bytes, vocabulary: Vocabulary) -> None:
    assert read_stamps(read_message(message(label, body)), vocabulary).stamp is None
    # The Subject is shown whatever the body's charset.
    stamped = message(label, body, subject=b"Cleared for publication")
    assert read_stamps(read_message(stamped), vocabulary).stamp is Stamp.CLEARED


@pytest.mark.parametrize(("label", "body", "other"), [
    ("iso-2022-kr", b"Cleared", "\ufffd"),
    ("iso-2022-kr", b"", None),
    ("cp037", "Cleared".encode("cp037"), "Ã“…\x81™…„"),  # the bytes as windows-1252
    ("utf-7", b"Cleared", None),  # decoded alike either way: one reading
    ("utf-8", b"Cleared", None),
    ("unknown-x", b"Cleared", None),  # an unknown label: clients show ASCII as it is
])
def test_what_a_client_following_the_standard_shows(label: str, body: bytes,
                                                    other: str | None) -> None:
    assert decode(body, label).other == other


def test_a_stricter_stamp_in_either_decoding_counts(vocabulary: Vocabulary) -> None:
    body = "Cleared for publication\n\nHello\n".encode("cp037")
    data = message("cp037", body, subject=b"Internal")
    assert read_stamps(read_message(data), vocabulary).stamp is Stamp.INTERNAL
    assert read_stamps(read_message(message("utf-7", b"Confidential\r\n")),
                       vocabulary).stamp is Stamp.CONFIDENTIAL


def test_ascii_in_utf32_reads_the_same_both_ways(vocabulary: Vocabulary) -> None:
    """UTF-32 is a label only Python knows; a client that does not know it shows the bytes,
    whose NULs draw nothing: both readings show the stamp."""
    body = "Cleared for publication\n\nHello\n".encode("utf-32-le")
    assert read_stamps(read_message(message("utf-32-le", body)), vocabulary).stamp is (
        Stamp.CLEARED)


@pytest.mark.parametrize(("label", "body", "text"), [
    ("gbk", b"Con\x81\x36\xa4\x37fidential", "Con\u200bfidential"),  # a GB18030 sequence
    ("gb2312", b"\x90\x30\x81\x30", "\U00010000"),
    ("euc-jp", b"CONF\xad\xb5DENT", "CONF\u2160DENT"),  # NEC row 13: Roman numeral one
    ("iso-2022-jp", b"CONF\x1b$B-5\x1b(BDENT", "CONF\u2160DENT"),
    ("iso-2022-jp", "日本語".encode("iso2022_jp"), "日本語"),
    ("windows-1252", b"C\x81onf", "C\x81onf"),  # undefined in Python's cp1252: a C1 control
])
def test_decoders_as_the_encoding_standard_has_them(label: str, body: bytes, text: str) -> None:
    assert decode(body, label).text == text


@pytest.mark.parametrize("meta", [
    '<meta charset="shift_jis">',
    "<meta http-equiv='Content-Type' content='text/html; charset=Shift_JIS'>",
])
def test_an_html_part_without_a_charset_takes_its_meta(meta: str,
                                                       vocabulary: Vocabulary) -> None:
    body = (f"<html><head>{meta}</head><body><p>".encode() + "CONFⅠDENTⅠAL".encode("cp932")
            + b"</p><p>Names</p></body></html>")
    data = b"Subject: Cleared for publication\r\nContent-Type: text/html\r\n\r\n" + body
    assert read_stamps(read_message(data), vocabulary).stamp is Stamp.CONFIDENTIAL


def test_a_charset_label_wins_over_the_meta() -> None:
    raw = b'<meta charset="shift_jis"><p>caf\xc3\xa9</p>'
    assert "café" in decode_html(raw, "utf-8").text
    assert decode_html(raw, None).other is not None  # a client ignoring the meta: a reading



def stamped(header: str, body: bytes, vocabulary: Vocabulary) -> Stamp | None:
    data = (f"Subject: Cleared for publication\r\n{header}\r\n".encode() + body)
    return read_stamps(read_message(data), vocabulary).stamp


@pytest.mark.parametrize(("header", "codec"), [
    ("Content-Type: text/plain\r\n", "cp1251"),
    ("\r\n", "koi8_r"),  # no Content-Type at all
    ("Content-Type: text/plain; charset=us-ascii\r\n", "cp1251"),
    ("Content-Type: text/plain; charset=utf-8\r\n", "cp1251"),  # not UTF-8 bytes
    ("Content-Type: text/html\r\n", "cp1251"),
    ("Content-Type: text/plain\r\n", "cp1256"),
])
def test_unlabelled_8bit_text_is_also_read_in_the_locale_charsets_clients_detect(
        header: str, codec: str, vocabulary: Vocabulary) -> None:
    # Thunderbird and Chromium detect the charset of unlabelled text: a reader in Russia or
    # Iran sees the stamp, not the windows-1252 letters a guess gives.
    word, other = ("سري", "ملف") if codec == "cp1256" else ("Конфиденциально", "Досье")
    body = f"{word}\r\n\r\nThe notes.\r\n"
    if "html" in header:
        body = f"<p>Cleared for publication</p><p>{word}</p>"
    assert stamped(header, body.encode(codec), vocabulary) is Stamp.CONFIDENTIAL
    # a message whose text is no stamp in any reading keeps its Subject's clearance
    assert stamped(header, f"{other}\r\n".encode(codec), vocabulary) is Stamp.CLEARED


def test_utf8_under_an_ascii_label_is_read_as_utf8_too(vocabulary: Vocabulary) -> None:
    # The Encoding Standard decodes us-ascii as windows-1252; a detecting client shows UTF-8.
    body = "Gizli\r\n\r\nÇalışma notları.\r\n".encode()
    header = "Content-Type: text/plain; charset=us-ascii\r\n"
    assert stamped(header, body.replace(b"Gizli", "Gİzlİ".encode()),
                   vocabulary) is Stamp.CONFIDENTIAL


def test_labelled_or_utf8_text_gets_no_guessed_reading(vocabulary: Vocabulary) -> None:
    # labelled windows-1252: the detected readings are for stricter stamps only (a
    # mislabelled stamp counts: test_reader_round6.py); text that is none keeps the Subject's
    body = "Досье\r\n".encode("cp1251")
    assert stamped("Content-Type: text/plain; charset=windows-1252\r\n", body,
                   vocabulary) is Stamp.CLEARED
    assert stamped("Content-Type: text/plain\r\n", "Досье\r\n".encode(),
                   vocabulary) is Stamp.CLEARED


@pytest.mark.parametrize(("label", "codec"), [("utf-16", "utf-16-be"), ("utf-32", "utf-32-be")])
def test_wide_text_without_a_byte_order_mark_is_also_read_big_endian(
        vocabulary: Vocabulary, label: str, codec: str) -> None:
    # The Encoding Standard reads it little-endian; Apple Mail reads it big-endian.
    body = "Confidential\r\n\r\nThe notes.\r\n".encode(codec)
    header = f"Content-Type: text/plain; charset={label}\r\n"
    assert stamped(header, body, vocabulary) is Stamp.CONFIDENTIAL
    little = "Story\r\n".encode(codec.replace("-be", "-le"))
    assert stamped(header, little, vocabulary) is Stamp.CLEARED
