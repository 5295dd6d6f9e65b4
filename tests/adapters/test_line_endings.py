"""The DATA shortcuts (line endings, dot-stuffing) give exactly aiosmtplib's result."""

from __future__ import annotations

import re

import aiosmtplib.protocol
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.adapters.delivery import CrlfLines, DotStuffing, crlf_line_endings
from gateway.adapters.rewrite import outgoing
from gateway.core.headers import has_bare_line_ending

# aiosmtplib's own dot-stuffing pattern (aiosmtplib.protocol.PERIOD_REGEX before ours).
_PERIOD = re.compile(rb"(?m)^\.")
# aiosmtplib's own rule, restated: lone CR and LF become CRLF; the message ends in CRLF.
_LINE_ENDINGS = re.compile(rb"(?:\r\n|\n|\r(?!\n))")


def reference(message: bytes) -> bytes:
    message = _LINE_ENDINGS.sub(b"\r\n", message)
    return message if message.endswith(b"\r\n") else message + b"\r\n"


pieces = st.lists(st.sampled_from([b"\r\n", b"\r", b"\n", b"a", b".", b"\r\r\n", b"\n\r"]),
                  max_size=40).map(b"".join)


@settings(max_examples=500, deadline=None)
@given(st.one_of(pieces, st.binary(max_size=200)))
def test_same_result_as_the_regex_for_any_bytes(message: bytes) -> None:
    assert crlf_line_endings(message) == reference(message)


def test_well_formed_message_is_passed_through() -> None:
    message = b"Subject: x\r\n\r\nCleared for publication\r\n.dot\r\n"
    assert crlf_line_endings(message) is message
    assert crlf_line_endings(b"no final newline") == b"no final newline\r\n"
    assert crlf_line_endings(b"a\nb\rc") == b"a\r\nb\r\nc\r\n"
    assert aiosmtplib.protocol.normalize_message_line_endings is crlf_line_endings


dotted = st.lists(st.sampled_from([b"\r\n", b"\n", b"\r", b".", b"..", b"a", b" .", b"\r\n.\r\n"]),
                  max_size=40).map(b"".join)


@settings(max_examples=500, deadline=None)
@given(st.one_of(dotted, st.binary(max_size=200)))
def test_dot_stuffing_same_result_as_the_regex_for_any_bytes(message: bytes) -> None:
    assert DotStuffing().sub(b"..", message) == _PERIOD.sub(b"..", message)


def test_dot_stuffing_is_what_aiosmtplib_uses() -> None:
    assert isinstance(aiosmtplib.protocol.PERIOD_REGEX, DotStuffing)
    assert DotStuffing.pattern == _PERIOD.pattern
    assert DotStuffing().sub(b"..", b".a\r\n..b\r\nc.\r\n.") == b"..a\r\n...b\r\nc.\r\n.."


# -- a copy made from a checked message (rewrite.outgoing(checked=True)) ---------------------

lines = st.lists(st.sampled_from([b"a", b".", b":", b" ", b"X-A: b", b"Subject: s", b"\t",
                                  b"From x", b"\r\n"]), max_size=30).map(b"".join)


def checked(message: bytes) -> bytes:
    """``message`` with every CR and LF in a CRLF pair, as the SMTP edge lets it through."""
    return message.replace(b"\r", b"").replace(b"\n", b"\r\n") if message else message


@settings(max_examples=500, deadline=None)
@given(st.one_of(lines.map(checked), st.binary(max_size=200).map(checked)),
       st.lists(st.tuples(st.sampled_from(["Received", "X-Stamp"]),
                          st.sampled_from(["by gw", "a\nb", "c\rd", "e\r\n", ""])),
                max_size=3),
       st.sampled_from([None, "[TLP:RED]", "[x\r\ny]"]))
def test_a_copy_of_a_checked_message_goes_out_as_the_regex_would_send_it(
        message: bytes, fields: list[tuple[str, str]], tag: str | None) -> None:
    assert not has_bare_line_ending(message)
    copy = outgoing(message, fields, tag, checked=True)
    plain = outgoing(message, fields, tag)
    assert type(plain) is bytes and copy == plain
    # What DATA sends of it is byte for byte what the full pass would send.
    assert crlf_line_endings(copy) == reference(plain)
    if isinstance(copy, CrlfLines):
        assert crlf_line_endings(copy) is copy


def test_only_a_copy_whose_new_fields_keep_crlf_lines_skips_the_pass() -> None:
    message = b"Subject: s\r\n\r\nCleared for publication\r\n"
    assert isinstance(outgoing(message, [("Received", "by gw")], checked=True), CrlfLines)
    # Unchecked, or a new field with a bare LF in it: the full pass, which mends it.
    assert type(outgoing(message, [("Received", "by gw")])) is bytes
    bare = outgoing(message, [("Received", "by\ngw")], checked=True)
    assert type(bare) is bytes
    assert crlf_line_endings(bare).startswith(b"Received: by\r\ngw\r\n")
    # A message that does not end in CRLF gets it from the pass.
    assert type(outgoing(b"Subject: s\r\n\r\nno end", [], checked=True)) is bytes
