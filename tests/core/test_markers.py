"""``ordinary``: one test for lines that open nothing; it never passes one that opens something."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core.markers import (
    MAX_MARKER_LENGTH,
    is_forward_marker,
    may_be_attribution,
    opens_header_block,
    ordinary,
)
from gateway.core.text import normalise_text

PIECES = st.sampled_from([
    "forwarded message", "original message", "begin forwarded message", "message transféré",
    "ursprüngliche nachricht", "الرسالة الأصلية", "from", "de", "von", "subject", "to", "sent",
    "on", "le", "am", "في", "wrote", "schrieb", "a écrit", "the", "report", "case 12",
    ":", " :", " ", "-", "--", "-----", "_", "=", "*", "~", "\t", ">", "<", "a", "é",
    "x" * MAX_MARKER_LENGTH])


@settings(max_examples=3000)
@given(st.lists(PIECES, max_size=8).map("".join))
def test_an_ordinary_line_is_none_of_the_three(line: str) -> None:
    """Ordinary lines skip the three tests, so it must never call a line ordinary that one of
    them finds; a line it does not call ordinary simply takes the three tests."""
    line = normalise_text(line)
    if ordinary(line):
        assert not (is_forward_marker(line) or opens_header_block(line)
                    or may_be_attribution(line))
    elif ":" not in line:  # without a colon it is exact
        assert is_forward_marker(line) or may_be_attribution(line)


def test_markers_headers_and_attributions_are_not_ordinary() -> None:
    for line in ["---------- forwarded message ---------", "-----original message-----",
                 "begin forwarded message:", "from: ann <ann@example.org>",
                 "on mon, 7 dec 2026, ann wrote:", "le lundi 7 décembre, ann a écrit :"]:
        assert not ordinary(normalise_text(line)), line
    assert ordinary("the report is attached")
