"""The delimiter search of ``split_parts`` finds what the RFC 2046 multi-line pattern finds."""

from __future__ import annotations

import re
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core import mime_entity
from gateway.core.mime_entity import delimiters, split_parts

TOKEN = b"b1"
# Bodies built from the pieces that matter around a delimiter line.
PIECES = st.sampled_from([b"--", TOKEN, b"--b1", b"--b1--", b"\r\n", b"\n", b"\r", b" ", b"\t",
                          b"x", b"-", b"b", b"1"])


def pattern_delimiters(body: bytes, token: bytes) -> list[tuple[int, int, bool]]:
    """The reference: the multi-line regular expression the search replaces."""
    found = re.compile(rb"^--" + re.escape(token) + rb"(--)?[ \t]*\r?$", re.MULTILINE)
    return [(m.start(), m.end(), bool(m.group(1))) for m in found.finditer(body)]


@settings(max_examples=3000)
@given(st.lists(PIECES, max_size=40).map(b"".join))
def test_the_search_finds_what_the_pattern_finds(body: bytes) -> None:
    assert list(delimiters(body, TOKEN)) == pattern_delimiters(body, TOKEN)


@settings(max_examples=1500)
@given(st.lists(PIECES, max_size=40).map(b"".join), st.integers(0, 3))
def test_the_pattern_takes_over_after_places_that_are_not_delimiters_finding_the_same(
        body: bytes, misses: int) -> None:
    """After FIND_MISSES near misses the pattern searches on; the delimiters are the same."""
    with mock.patch.object(mime_entity, "FIND_MISSES", misses):
        assert list(delimiters(body, TOKEN)) == pattern_delimiters(body, TOKEN)


@settings(max_examples=300)
@given(st.lists(PIECES, max_size=40).map(b"".join), st.sampled_from([b"", b"-", b"b1--"]))
def test_a_token_that_overlaps_its_own_hyphens(body: bytes, token: bytes) -> None:
    token = token or b"="
    assert list(delimiters(body, token)) == pattern_delimiters(body, token)


def test_parts_of_a_large_body_split_at_line_starts_only() -> None:
    filler = b"text --b1 in a line\r\n" * 5000
    body = (b"preamble\r\n--b1\r\nA\r\n" + filler + b"--b1 \t\r\nB\r\n--b1--\r\nepilogue")
    parts = split_parts(body, "b1", 10)
    assert parts == [b"A\r\n" + filler[:-2], b"B"]
