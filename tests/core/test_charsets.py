"""Charset labels resolved with the WHATWG Encoding Standard, as browsers and clients do."""

from __future__ import annotations

import pytest

from gateway.core.charsets import decode, resolve
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
