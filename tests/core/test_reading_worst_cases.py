"""Each reader on its worst case: the read finishes, never raises, and still gives the answer.

The guard is generous on purpose (a shared two-core machine); the measured figures are in
tests/perf/bench_isolation.py and docs/performance.md. In the gateway a read over its budget
is unreadable and fails closed, so what matters here is that every read ends, and ends right.
"""

from __future__ import annotations

import base64
import random
import time

from gateway.core.model import Stamp
from gateway.core.stamps import StampReading, Vocabulary
from gateway.service.reading import read_now

GUARD_SECONDS = 120.0
HEAD = (b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\n"
        b"Subject: Case update\r\nMessage-ID: <w1@example.org>\r\nMIME-Version: 1.0\r\n")
MB = 1_000_000


def read(data: bytes, vocabulary: Vocabulary) -> StampReading:
    start = time.perf_counter()
    reading = read_now(data, vocabulary).reading
    assert time.perf_counter() - start < GUARD_SECONDS
    return reading


def plain(body: bytes, params: str = "", encoding: str = "8bit") -> bytes:
    return HEAD + (f"Content-Type: text/plain; charset=utf-8{params}\r\n"
                   f"Content-Transfer-Encoding: {encoding}\r\n\r\n").encode() + body


def test_ten_megabytes_of_blank_lines_before_the_stamp(vocabulary: Vocabulary) -> None:
    reading = read(plain(b"\r\n" * (5 * MB) + b"Confidential\r\n\r\nThe notes.\r\n"),
                   vocabulary)
    assert reading.stamp is Stamp.CONFIDENTIAL
    assert reading.unreadable == ()


def test_ten_megabytes_of_blank_looking_lines_before_the_stamp(vocabulary: Vocabulary) -> None:
    # White space, NBSP and braille blanks: each line displays empty.
    line = " \t\u00a0\u2800\r\n".encode()
    reading = read(plain(line * (10 * MB // len(line)) + b"Internal\r\n"), vocabulary)
    assert reading.stamp is Stamp.INTERNAL
    assert reading.unreadable == ()


def test_ten_megabytes_of_blank_html_source_before_the_stamp(vocabulary: Vocabulary) -> None:
    data = HEAD + b"Content-Type: text/html\r\n\r\n<html><body>" + b"\r\n" * (5 * MB)
    reading = read(data + b"<p>Internal</p></body></html>\r\n", vocabulary)
    assert reading.stamp is Stamp.INTERNAL
    assert reading.unreadable == ()


def test_one_line_of_five_megabytes(vocabulary: Vocabulary) -> None:
    line = b"word " * MB
    after = read(plain(b"Confidential\r\n" + line + b"\r\n"), vocabulary)
    assert after.stamp is Stamp.CONFIDENTIAL
    # The same line on top is a very long sentence, not a stamp with a trailer.
    first = read(plain(b"Internal " + line + b"\r\n"), vocabulary)
    assert first.stamp is None
    assert first.unreadable == ()


def test_one_quoted_printable_line_of_five_megabytes(vocabulary: Vocabulary) -> None:
    body = b"Inter=\r\nnal\r\n" + b"=41" * (5 * MB // 3) + b"\r\n"
    reading = read(plain(body, encoding="quoted-printable"), vocabulary)
    assert reading.stamp is Stamp.INTERNAL


def test_five_megabytes_of_format_flowed_soft_breaks(vocabulary: Vocabulary) -> None:
    body = b"Confi \r\ndential\r\n\r\n" + b"a \r\n" * (5 * MB // 4) + b"end\r\n"
    reading = read(plain(body, "; format=flowed; delsp=yes"), vocabulary)
    assert reading.stamp is Stamp.CONFIDENTIAL


def test_ten_thousand_nested_multiparts_fail_closed(vocabulary: Vocabulary) -> None:
    levels = 10_000
    opening = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
                       for i in range(levels))
    closing = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(levels)))
    reading = read(HEAD + opening + b"Content-Type: text/plain\r\n\r\nCleared\r\n" + closing,
                   vocabulary)
    # The Cleared part is deeper than any client descends: unreadable, not cleared.
    assert reading.stamp is None
    assert any("nested deeper" in why for why in reading.unreadable)


def test_ten_thousand_nested_attached_messages_fail_closed(vocabulary: Vocabulary) -> None:
    inner = b"Subject: inner\r\n\r\nConfidential\r\n"
    for _ in range(10_000):
        inner = b"Content-Type: message/rfc822\r\n\r\n" + inner
    data = (HEAD + b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
            b"Content-Type: text/plain\r\n\r\nCleared\r\n--x\r\n" + inner + b"\r\n--x--\r\n")
    reading = read(data, vocabulary)
    assert reading.stamp is Stamp.CLEARED
    assert any("nested deeper" in why for why in reading.unreadable)


def test_html_nested_a_hundred_thousand_deep(vocabulary: Vocabulary) -> None:
    markup = b"<div>" * 100_000 + b"<b>Confidential</b>" + b"</div>" * 100_000
    reading = read(HEAD + b"Content-Type: text/html\r\n\r\n" + markup, vocabulary)
    assert reading.stamp is Stamp.CONFIDENTIAL
    assert reading.unreadable == ()


def test_unclosed_html_a_hundred_thousand_deep(vocabulary: Vocabulary) -> None:
    markup = b"<span><i>" * 50_000 + b"<p>Internal</p>"
    reading = read(HEAD + b"Content-Type: text/html\r\n\r\n" + markup, vocabulary)
    assert reading.stamp is Stamp.INTERNAL


def test_a_hundred_thousand_header_lines_fail_closed(vocabulary: Vocabulary) -> None:
    fields = b"".join(b"X-Filler-%d: value\r\n" % i for i in range(100_000))
    reading = read(HEAD + fields + b"\r\nCleared for publication\r\n", vocabulary)
    assert any("header fields" in why for why in reading.unreadable)


def test_a_hundred_thousand_folded_lines_of_one_header(vocabulary: Vocabulary) -> None:
    folded = b"X-Filler: start" + b"\r\n continued" * 100_000 + b"\r\n"
    reading = read(HEAD + folded + b"\r\nConfidential\r\n", vocabulary)
    assert reading.stamp is Stamp.CONFIDENTIAL


def test_a_megabyte_of_quote_markers(vocabulary: Vocabulary) -> None:
    deep = read(plain(b"Internal\r\n\r\n" + b">" * MB + b" Confidential\r\n"), vocabulary)
    assert deep.stamp is Stamp.INTERNAL
    assert Stamp.CONFIDENTIAL in {f.stamp for f in deep.embedded}
    lines = read(plain(b"Internal\r\n\r\n" + b">\r\n" * (MB // 3) + b"> Confidential\r\n"),
                 vocabulary)
    assert lines.stamp is Stamp.INTERNAL
    assert Stamp.CONFIDENTIAL in {f.stamp for f in lines.embedded}


def test_a_base64_attachment_of_ten_megabytes_of_garbage(vocabulary: Vocabulary) -> None:
    garbage = random.Random(14).randbytes(10 * MB)
    data = (HEAD + b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
            b"Content-Type: text/plain\r\n\r\nConfidential\r\n--x\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + garbage + b"\r\n--x--\r\n")
    reading = read(data, vocabulary)
    assert reading.stamp is Stamp.CONFIDENTIAL


def test_a_base64_text_part_of_ten_megabytes_of_garbage_fails_closed(
        vocabulary: Vocabulary) -> None:
    garbage = random.Random(14).randbytes(10 * MB)
    reading = read(plain(garbage, encoding="base64"), vocabulary)
    assert reading.stamp is None
    assert any("base64" in why for why in reading.unreadable)
    # Base64 whose bytes are garbage decodes: the stamp above the garbage still counts.
    decodable = base64.encodebytes(b"Internal\r\n\r\n" + garbage[:7 * MB])
    assert read(plain(decodable, encoding="base64"), vocabulary).stamp is Stamp.INTERNAL
