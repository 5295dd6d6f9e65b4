"""Stricter stamps a reader sees that are not a plain stamp line (core/near_top.py): vertical
strokes read as one letter, a stamp after a label or between separators, stamp lines past the
top's cap, crosses and unticked boxes, and any punctuation in the Subject."""

from __future__ import annotations

import pytest

from gateway.core.model import Location, Stamp
from gateway.core.stamps import Vocabulary, read_subject, read_top_text

C, INTERNAL, CLEARED = Stamp.CONFIDENTIAL, Stamp.INTERNAL, Stamp.CLEARED


def top(text: str, vocabulary: Vocabulary) -> Stamp | None:
    found = read_top_text(text, vocabulary, Location.BODY)
    return max((f.stamp for f in found), key=lambda s: s.rank, default=None)


def subject(text: str, vocabulary: Vocabulary) -> Stamp | None:
    found = read_subject(text, vocabulary)
    return max((f.stamp for f in found), key=lambda s: s.rank, default=None)


@pytest.mark.parametrize("line", [
    "lnternal", "lNTERNAL USE ONLY", "\u01c0nternal", "\u217cNTERNAL", "Interna1", "|NTERNAL",
    "lntern", "DAHlLl", "Cleared for publication / lnternal",
])
def test_a_vertical_stroke_reads_as_any_other(line: str, vocabulary: Vocabulary) -> None:
    # In the sans-serif fonts of mail clients I, l, 1 and | are the same stroke.
    assert top(f"{line}\n\nThe story.", vocabulary) is INTERNAL
    assert top(f"Cleared for publication\n{line}\n\nThe story.", vocabulary) is INTERNAL


@pytest.mark.parametrize("line", ["Giz1i", "GlZLl", "Confldentlal", "C0NFlDENTlAL"])
def test_strokes_in_other_words_and_languages(line: str, vocabulary: Vocabulary) -> None:
    assert top(f"Cleared for publication\n{line}", vocabulary) is C


def test_strokes_never_clear_a_message(vocabulary: Vocabulary) -> None:
    # A reading that can only be stricter: "CIeared for pubIication" is no Cleared stamp.
    assert top("CIeared for pubIication\n\nThe story.", vocabulary) is None
    assert top("Cleared for publication\n\nThe lnternational desk's story.", vocabulary) is CLEARED
    assert top("Cleared for publication\n\nlnternal displacement figures rose.",
               vocabulary) is CLEARED  # a sentence below the top is not a stamp


@pytest.mark.parametrize("line", [
    "Private / Confidential", "Private + Confidential", "Sensitivity: Confidential",
    "Distribution: confidential", "PRIVATE | CONFIDENTIAL; DO NOT SHARE",
    "PRIVATE/CONFIDENTIAL", "Private+Confidential",
])
def test_a_stamp_after_a_label_or_between_separators(line: str, vocabulary: Vocabulary) -> None:
    assert top(f"{line}\n\nThe story.", vocabulary) is C
    assert top(f"Cleared for publication\n{line}\nThe story.", vocabulary) is C


def test_pieces_are_read_for_stricter_stamps_only(vocabulary: Vocabulary) -> None:
    # a marking field's name in front is the vocabulary's own reading, and may clear
    assert top("Status: Cleared for publication\n\nThe story.", vocabulary) is CLEARED
    assert top("Job title: Intern\n\nThe story.", vocabulary) is None
    assert top("Audience: internal & external\n\nThe story.", vocabulary) is None
    assert top("Photos / Cleared for publication\n\nThe story.", vocabulary) is None
    assert top("Notes: the confidential part follows.\n", vocabulary) is None  # a sentence
    assert top("The private & confidential report.\n", vocabulary) is None
    # a separator without spaces splits only a line of one word
    assert top("Photos/Confidential sources below\n\nText.", vocabulary) is None


def test_stamp_lines_past_the_cap_still_count_when_stricter(vocabulary: Vocabulary) -> None:
    lines = "Cleared for publication\n" * 12
    assert top(lines + "CONFIDENTIAL\n\nThe story.", vocabulary) is C
    assert top(lines + "\nCONFIDENTIAL\n", vocabulary) is CLEARED  # a blank line ends the top


@pytest.mark.parametrize("mark", ["\u2715", "\u2613", "\U0001f5d9", "\u2610", "\u25a1"])
def test_a_cross_or_an_unticked_box_takes_the_clearance_back(
        mark: str, vocabulary: Vocabulary) -> None:
    assert top(f"Cleared for publication: {mark}\n\nThe story.", vocabulary) is None
    assert top(f"{mark} Cleared for publication\n\nThe story.", vocabulary) is None
    assert top("\u2611 Cleared for publication\n\nThe story.", vocabulary) is CLEARED  # ticked


@pytest.mark.parametrize("text", [
    "Case 12, Confidential", "\u2022 Confidential", "Case 12 *CONFIDENTIAL*",
    "Case 12 {Confidential}", "\u00abConfidential\u00bb Case 12", "\u300cConfidential\u300d",
    "\U0001f512 Confidential", "Case 12 \u2015 Confidential", "Case 12 <Confidential>",
    "Case 12 \u00b7 Confidential", "Case 12 \u2014Confidential\u2014",
])
def test_any_punctuation_sets_a_stricter_stamp_apart_in_the_subject(
        text: str, vocabulary: Vocabulary) -> None:
    assert subject(text, vocabulary) is C


def test_a_stamp_word_in_a_list_in_the_subject_is_no_stamp(vocabulary: Vocabulary) -> None:
    assert subject("Press release: new helpline - free, confidential, 24/7 (cleared)",
                   vocabulary) is CLEARED
    assert subject("Helpline: free, confidential", vocabulary) is C  # at the end


def test_subject_punctuation_does_not_make_a_stamp_of_a_compound_or_a_clearance(
        vocabulary: Vocabulary) -> None:
    assert subject("Case 12: confidentiality-notes, Q3", vocabulary) is None
    assert subject("[PRIVATE/CONFIDENTIAL] notes", vocabulary) is C
    assert subject("Case 12, the confidential-looking file", vocabulary) is None
    assert subject("Story, Cleared for publication", vocabulary) is None
    assert subject("Cleared for publication: the story", vocabulary) is CLEARED


def test_rn_reads_as_the_m_it_is_drawn_as(vocabulary: Vocabulary) -> None:
    assert top("Cleared for publication\nIntemal\n\nThe story.", vocabulary) is INTERNAL
    assert top("Cleared for publication\n\nThe modern story.", vocabulary) is CLEARED
