"""Properties: disguising a stamp never changes its reading; stamp words mid-line never stamp."""

from __future__ import annotations

from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.core import scan
from gateway.core.model import Location, Stamp
from gateway.core.stamps import Vocabulary, read_top_text, scan_text

STAMPS = [("Confidential", Stamp.CONFIDENTIAL), ("Internal", Stamp.INTERNAL),
          ("Cleared for publication", Stamp.CLEARED), ("Strictly confidential",
                                                        Stamp.CONFIDENTIAL),
          ("Private & Confidential", Stamp.CONFIDENTIAL), ("Internal use only", Stamp.INTERNAL)]
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad\ufe0f\ufe0e\u034f\u202a\u202c\u202e\u2066" \
            "\u2069\U000e0041\U000e007f\u180e\u061c"
# Look-alikes per Latin letter, from several scripts and blocks.
LOOK_ALIKES = {
    "a": "\u0430\u0251\u03b1\u1d00\uff41", "c": "\u0441\u03f2\u1d04\u13df\uff43",
    "e": "\u0435\u1d07\uff45", "i": "\u0456\u026a\u13a5\uff49", "o": "\u043e\u03bf\u0585\u1d0f",
    "p": "\u0440\u03c1\u1d18", "n": "\u0274\uff4e", "l": "\u029f\u217c", "d": "\u1d05\u0501",
    "t": "\u1d1b\uff54", "r": "\u0280\uff52", "s": "\u0455\ua731", "f": "\ua730\uff46",
}
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def top(text: str, vocabulary: Vocabulary) -> Stamp | None:
    found = read_top_text(text, vocabulary, Location.BODY)
    return max((f.stamp for f in found), key=lambda s: s.rank, default=None)


@st.composite
def disguised(draw: st.DrawFn) -> tuple[str, Stamp]:
    phrase, stamp = draw(st.sampled_from(STAMPS))
    out: list[str] = []
    for char in phrase:
        if char.isalpha() and draw(st.booleans()):
            char = char.upper()
        options = LOOK_ALIKES.get(char.lower(), "")
        if options and draw(st.integers(0, 3)) == 0:
            char = draw(st.sampled_from(options))
        out.append(char)
        out.append(draw(st.text(st.sampled_from(INVISIBLE), max_size=2)))
    decoration = draw(st.sampled_from(["{}", "[{}]", "*** {} ***", "Stamp: {}",
                                       "{} - do not forward"]))
    blank = draw(st.lists(st.sampled_from(["", " ", "\u2800", "\u3164", "\u00a0"]), max_size=3))
    return "\n".join([*blank, decoration.format("".join(out)), "", "Dear all, the notes."]), stamp


@SETTINGS
@given(disguised())
def test_invisible_characters_look_alikes_and_case_do_not_change_the_reading(
        vocabulary: Vocabulary, case: tuple[str, Stamp]) -> None:
    text, stamp = case
    assert top(text, vocabulary) is stamp


@SETTINGS
@given(st.sampled_from(["Confidential", "Internal", "Cleared"]),
       st.sampled_from(" -."), st.booleans())
def test_letter_spacing_does_not_change_the_reading(
        vocabulary: Vocabulary, word: str, gap: str, upper: bool) -> None:
    expected = top(word, vocabulary)
    spaced = gap.join(word.upper() if upper else word)
    assert top(spaced, vocabulary) is expected is not None


WORDS = st.sampled_from(["the", "team", "meeting", "client", "report", "today", "we", "will",
                         "send", "notes", "about", "files", "audit", "case", "is", "our"])
STAMP_WORDS = st.sampled_from(["confidential", "internal", "cleared", "Confidential",
                               "INTERNAL", "Strictly confidential", "Private & Confidential",
                               "confidentail", "for internal use"])


@SETTINGS
@given(st.lists(WORDS, min_size=1, max_size=6), STAMP_WORDS, st.lists(WORDS, max_size=6),
       st.sampled_from([".", "", "!", " today."]))
def test_stamp_words_in_the_middle_of_a_sentence_are_never_stamps(
        vocabulary: Vocabulary, before: list[str], word: str, after: list[str],
        end: str) -> None:
    sentence = " ".join([*before, word, *after]) + end
    sentence = sentence[0].upper() + sentence[1:]
    assert top(sentence, vocabulary) is None
    assert top(f"Hello,\n{word}\n", vocabulary) is None  # not on the top line


@SETTINGS
@given(STAMP_WORDS, st.lists(WORDS, min_size=1, max_size=6))
def test_a_stamp_word_opening_a_sentence_is_not_a_stamp(
        vocabulary: Vocabulary, word: str, after: list[str]) -> None:
    assert top(" ".join([word, *after]) + ".", vocabulary) is None


# Lines of every kind the scanner tells apart: stamps (Needs adjustment with its list),
# quotes at several levels, forward markers, reply headers, attributions, blanks, prose.
SCAN_LINES = st.sampled_from([
    "", " ", "\u2800", "Confidential", "Internal", "Cleared for publication",
    "Needs adjustment in 2 ways", "1. remove the name", "- blur the photo", "Dear all,",
    "the client report is attached", "> Confidential", "> > Internal", ">", "> the notes",
    "---------- Forwarded message ---------", "From: Ann <ann@example.org>",
    "Subject: Internal: case 12", "Date: Mon, 7 Dec 2026 10:00:00 +0000",
    "On Mon, 7 Dec 2026, Ann <ann@example.org> wrote:", "-----Original Message-----",
    "Sent: Monday", "To: team@example.org", "[CONFIDENTIAL]", "Stamp: Internal"])


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(SCAN_LINES, max_size=30))
def test_reading_only_the_top_finds_what_the_whole_walk_finds_there(
        vocabulary: Vocabulary, lines: list[str]) -> None:
    """A document's first line is read by a walk that stops after its top (forty pages
    are not searched for quotes): that walk must find exactly the full walk's own stamps."""
    text = "\n".join(lines)
    assert read_top_text(text, vocabulary, Location.DOCUMENT) == \
        scan_text(text, vocabulary, Location.DOCUMENT)[0]


@settings(max_examples=600, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(SCAN_LINES, st.sampled_from(["", "  ", "\t", "\u0301x", "\r"])),
                max_size=60), st.sampled_from(["\n", "\r\n"]), st.sampled_from([1, 7, 40, 200]))
def test_a_top_read_from_the_texts_beginning_finds_what_the_whole_walk_finds(
        vocabulary: Vocabulary, lines: list[str], newline: str, chunk: int) -> None:
    """Only the beginning of a long text is folded into lines for its top: beginnings cut
    anywhere (in runs of blank lines, before combining marks, before a Needs adjustment
    list) find the same stamps as the walk over the whole text."""
    text = newline.join(lines)
    with mock.patch.object(scan, "TOP_CHUNK", chunk):
        top_only = read_top_text(text, vocabulary, Location.DOCUMENT)
    assert top_only == scan_text(text, vocabulary, Location.DOCUMENT)[0]


def test_the_top_of_an_empty_or_blank_text_is_read_to_its_end(vocabulary: Vocabulary) -> None:
    assert read_top_text("", vocabulary, Location.DOCUMENT) == []
    # A stamp below 200,000 characters of blank lines, and in a text without a line break.
    late = "\n \n" * 100_000 + "Internal\nThe notes."
    assert top(late, vocabulary) is Stamp.INTERNAL
    assert top("Confidential" + " the notes" * 20_000, vocabulary) is None


@pytest.mark.parametrize("chunk", [1, 30, 60])
def test_a_needs_adjustment_list_cut_by_the_beginning_is_read_whole(
        vocabulary: Vocabulary, chunk: int) -> None:
    text = ("Needs adjustment in 3 ways\n1. remove the name\n2. blur the photo\n"
            "3. change the date\n\nDear all, the draft.\n" + "More of the story.\n" * 50)
    with mock.patch.object(scan, "TOP_CHUNK", chunk):
        [finding] = read_top_text(text, vocabulary, Location.DOCUMENT)
    assert finding.stamp is Stamp.NEEDS_ADJUSTMENT
    assert len(finding.adjustments) == 3
