"""The DATA shortcuts (line endings, dot-stuffing) give exactly aiosmtplib's result."""

from __future__ import annotations

import re

import aiosmtplib.protocol
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.adapters.delivery import DotStuffing, crlf_line_endings

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
