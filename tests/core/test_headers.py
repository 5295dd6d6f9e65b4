"""Where the header block ends, read once for the reader, the rewriter and the signer."""

from __future__ import annotations

import time

import pytest

from gateway.adapters.rewrite import outgoing, split_header
from gateway.adapters.signing import SignatureInvalid, signature_field, verify
from gateway.core.headers import LineKind, header_over, read_header_block
from gateway.core.message import read_message
from gateway.core.model import Stamp
from gateway.core.stamps import Vocabulary, read_stamps

KEY = b"k" * 32


def test_obsolete_space_before_the_colon_is_a_header_field(vocabulary: Vocabulary) -> None:
    data = (b"From: alice@example.org\r\nX-Stamp : cleared\r\nSubject\t: Case\r\n"
            b"\r\nConfidential\r\nsecret\r\n")
    facts = read_message(data)
    assert facts.subject == "Case"
    assert facts.x_stamps == ("cleared",)
    # The body is read: its Confidential wins over the header's "cleared".
    assert read_stamps(facts, vocabulary).stamp is Stamp.CONFIDENTIAL
    assert facts.ambiguous_headers is None and facts.unreadable == ()


def test_the_rewriter_strips_an_obsolete_x_stamp_like_the_reader_reads_it() -> None:
    data = b"X-Stamp : cleared\r\n  continued\r\nSubject: x\r\n\r\nInternal\r\n"
    relayed = outgoing(data, [("X-Stamp", "internal")])
    assert relayed == b"X-Stamp: internal\r\nSubject: x\r\n\r\nInternal\r\n"
    assert read_message(relayed).x_stamps == ("internal",)


def test_folded_fields_are_one_value() -> None:
    block = read_header_block(b"Subject: one\r\n two\r\n\tthree\r\nTo: b@x.test\r\n\r\nbody")
    assert [(line.name, line.value) for line in block.fields] == [
        ("Subject", "one two\tthree"), ("To", "b@x.test")]
    assert block.ambiguous is None


@pytest.mark.parametrize(("line", "why"), [
    (b"no colon here", "without a colon"),
    (b"Caf\xc3\xa9: 8-bit name", "8-bit"),
    (b"From alice@example.org Mon Jan  1 00:00:00 2024", "mbox"),
    (b"Two words: value", "not a field name"),
    (b": empty name", "not a field name"),
])
def test_a_line_that_is_no_field_makes_the_end_ambiguous(line: bytes, why: str,
                                                        vocabulary: Vocabulary) -> None:
    data = b"From: alice@example.org\r\n" + line + b"\r\nSubject: x\r\n\r\nConfidential\r\n"
    block = read_header_block(data)
    assert block.ambiguous is not None and why in block.ambiguous
    # The reading goes on past the line: the body still starts after the empty line.
    assert data[block.body_start:] == b"Confidential\r\n"
    facts = read_message(data)
    assert facts.subject == "x"
    reading = read_stamps(facts, vocabulary)
    assert reading.stamp is Stamp.CONFIDENTIAL
    assert any("ambiguous" in reason for reason in reading.unreadable)


def test_a_first_line_continuation_is_ambiguous() -> None:
    assert read_header_block(b" Subject: x\r\n\r\nbody").ambiguous is not None


def test_a_leading_mbox_from_line_is_accepted_and_not_relayed() -> None:
    data = b"From alice@example.org Mon Jan  1 00:00:00 2024\nSubject: x\n\nInternal\n"
    block = read_header_block(data)
    assert block.ambiguous is None
    assert [line.kind for line in block.lines] == [LineKind.ENVELOPE, LineKind.FIELD]
    assert outgoing(data, [("X-Stamp", "internal")]) == (
        b"X-Stamp: internal\r\nSubject: x\n\nInternal\n")


@pytest.mark.parametrize(("data", "header"), [
    (b"", b""),
    (b"\r\nbody", b""),
    (b"Subject: x", b"Subject: x"),
    (b"Subject: x\r\n", b"Subject: x\r\n"),
    (b"Subject: x\n\nbody\n\nmore", b"Subject: x\n"),
    (b"Subject: x\r\n \r\nTo: y\r\n\r\nbody", b"Subject: x\r\n \r\nTo: y\r\n"),
])
def test_split_header(data: bytes, header: bytes) -> None:
    assert split_header(data) == (header, data[len(header):])
    assert read_message(data).header_end == len(header)


def test_the_signer_reads_obsolete_syntax_like_the_reader() -> None:
    name, value = signature_field(KEY, "Q1", "internal", "<m1@example.org>")
    data = outgoing(b"Message-ID : <m1@example.org>\r\nSubject: x\r\n\r\nInternal\r\n",
                    [("X-Stamp", "internal"), (name, value)])
    assert verify(data, KEY).stamp == "internal"
    forged = data.replace(b"X-Stamp: internal", b"X-Stamp: internal\r\nX-Stamp : cleared")
    with pytest.raises(SignatureInvalid, match="2 X-Stamp"):
        verify(forged, KEY)


@pytest.mark.parametrize("data", [
    b"Subject: x\r\n" + b"\r\n" * 5_000_000,
    b"Subject: x\r\n" + b" \r\n" * 3_000_000 + b"\r\nbody",
    b"a:\r\n" * 2_000_000 + b"\r\nbody",
    b"x" * 10_000_000,
    b"Subject: x\r\n" + b"no colon\r\n" * 1_000_000 + b"\r\nbody",
], ids=["blank-lines", "continuations", "many-fields", "one-long-line", "stray-lines"])
def test_large_header_blocks_read_quickly(data: bytes) -> None:
    # CPU time, not wall time: the bound is about the reader's work, not the machine's load.
    started = time.process_time()
    facts = read_message(data)
    elapsed = time.process_time() - started
    assert elapsed < 1.5, elapsed
    assert facts.header_end == read_header_block(data).end


def test_a_message_without_any_field_is_all_body(vocabulary: Vocabulary) -> None:
    data = b"\xff\xfegarbage\r\n\r\nConfidential\r\nsecret\r\n"
    block = read_header_block(data)
    assert (block.ambiguous, block.end, block.headless) == (None, 0, True)
    assert split_header(data) == (b"", data)
    # Shown whole by some clients, from the empty line on by others: both are read.
    assert read_stamps(read_message(data), vocabulary).stamp is Stamp.CONFIDENTIAL


def test_junk_before_a_field_stays_ambiguous() -> None:
    assert read_header_block(b"junk\r\nX-Stamp: cleared\r\n\r\nInternal\r\n").ambiguous


LIMIT = 1024


@pytest.mark.parametrize(("data", "over"), [
    (b"Subject: x\r\n\r\n" + b"body\r\n" * 1000, False),  # a small header, a large body
    (b"Subject: " + b"x" * 1013 + b"\r\n\r\nbody\r\n", False),  # exactly the limit
    (b"Subject: " + b"x" * 1014 + b"\r\n\r\nbody\r\n", True),  # one byte over it
    (b"Subject: " + b"x" * 1014 + b"\n\nbody\n", False),  # bare LF: 1024 bytes
    (b"Subject: " + b"x" * 1015 + b"\n\nbody\n", True),
    (b"X: a" + b"\r\n b" * 400 + b"\r\n\r\nbody\r\n", True),  # folded
    (b"X: a\r\n" * 300, True),  # no body: the whole message is the header block
    (b"X: a\r\n" * 100, False),
    (b"\r\n" + b"X: a\r\n" * 300, False),  # an empty first line: no header block at all
    (b"From alice Thu Nov 26\r\n" + b"X: a\r\n" * 300 + b"\r\nbody\r\n", True),
    (b"just text, no header fields\r\n" * 100, False),  # headless: all of it is body
])
def test_header_over_the_limit(data: bytes, over: bool) -> None:
    assert header_over(data, LIMIT) is over
    if not over and len(data) > LIMIT and not data.startswith(b"just"):
        block = read_header_block(data)
        assert block.end <= LIMIT


def test_header_over_reads_only_about_the_limit() -> None:
    huge = b"X: a" + b"\r\n b" * 5_000_000 + b"\r\n\r\nbody\r\n"  # 20 MB
    started = time.perf_counter()
    for _ in range(100):
        assert header_over(huge, 100 * 1024)
    assert time.perf_counter() - started < 1.0  # 100 checks; each reads about 100 KB
