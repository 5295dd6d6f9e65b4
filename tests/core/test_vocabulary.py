"""Labels as people write them: spaced out, hyphenated, with & or a typo; X-Stamp read back."""

from __future__ import annotations

import time

import pytest

from gateway.core.message import read_message
from gateway.core.model import Location, Stamp
from gateway.core.stamps import Vocabulary, read_stamps, read_top_text
from gateway.core.vocabulary import MAX_TRAILER_STAMP
from tests.core.mail import plain

C, I, K, N = Stamp.CONFIDENTIAL, Stamp.INTERNAL, Stamp.CLEARED, Stamp.NEEDS_ADJUSTMENT  # noqa: E741


def top(text: str, vocabulary: Vocabulary) -> Stamp | None:
    found = read_top_text(text, vocabulary, Location.BODY)
    return max((f.stamp for f in found), key=lambda s: s.rank, default=None)


@pytest.mark.parametrize(("text", "expected"), [
    # letter-spaced
    ("C O N F I D E N T I A L", C),
    ("C-O-N-F-I-D-E-N-T-I-A-L", C),
    ("C.O.N.F.I.D.E.N.T.I.A.L.", C),
    ("C · O · N · F · I · D · E · N · T · I · A · L", C),
    ("I N T E R N A L", I),
    ("[ I N T E R N A L ]", I),
    ("S T R I C T L Y   C O N F I D E N T I A L", C),
    ("C O N F I D E N T I A L - do not forward", C),
    ("C O N F I D E N T A I L", C),  # spaced and misspelt
    ("I N T E R N A L A U D I T", None),  # a spaced-out sentence stays a sentence
    ("J. R. Smith", None),
    # hyphens and &
    ("Private & Confidential", C),
    ("Private and Confidential", C),
    ("PRIVATE-AND-CONFIDENTIAL", C),
    ("Internal-only", I),
    ("internal use only", I),
    ("INTERNAL-USE-ONLY", I),
    ("For internal use", I),
    ("For internal use only:", I),
    ("Strictly confidential", C),
    ("Strictly-confidential", C),
    ("Company confidential", C),
    ("Not for publication", I),
    ("Cleared-for-publication", K),
    # one typo in a long word
    ("Confidentail", C),
    ("Confidental", C),
    ("Confidentiall", C),
    ("Cnofidential", C),
    ("CONFIDENTAIL - do not forward", C),
    ("Strictly confidental", C),
    ("Cleared for publicaton", K),
    ("Needs adjustmnet: blur face", N),
    ("Internla", I),  # two swapped neighbours in an 8-letter word
    # but not a typo that makes another word, nor two typos, nor short words
    ("Interval", None),
    ("Internat", None),
    ("Confidnetail", None),
    ("Intrenal", I),
    ("Inetrnal", I),
    ("Intern", I),  # German
    ("Interns", None),
    ("Internet", None),
    # sentences stay sentences
    ("Internal audit starts Monday.", None),
    ("Confidentail information about the client follows", None),
    ("Private and confidential matters were discussed", None),
    ("Internal use of the room is free", None),
    ("For internal reasons we postponed", None),
    ("Confidentiality is our first duty", None),
    ("Not for publication - draft", I),  # the stamp, then a trailer
    ("Not for publication yet", None),
])
def test_labels_as_people_write_them(text: str, expected: Stamp | None,
                                     vocabulary: Vocabulary) -> None:
    assert top(text, vocabulary) is expected


def test_confidential_in_the_middle_of_a_body_is_not_a_stamp(vocabulary: Vocabulary) -> None:
    body = "Hello team,\nthe C O N F I D E N T I A L part is in the annex.\nConfidentail\n"
    assert top(body, vocabulary) is None


def test_a_typo_fitting_two_stamps_reads_as_the_stricter() -> None:
    vocabulary = Vocabulary({Stamp.INTERNAL: ["Restricted"], Stamp.CONFIDENTIAL: ["Restricter"]})
    assert top("Restrictex", vocabulary) is C


def test_the_trailer_after_a_misspelt_stamp_is_kept(vocabulary: Vocabulary) -> None:
    (finding,) = read_top_text("Needs adjustmnet in 2 ways: blur face, change name",
                               vocabulary, Location.BODY)
    assert finding.stamp is N
    assert finding.adjustments == ("blur face", "change name")
    assert finding.stated_count == 2


@pytest.mark.parametrize("text", [
    "C O N F " * 125_000,  # a 1 MB letter-spaced line
    "Confidentail " * 80_000,
    "x" * 1_000_000,
    "Private & " * 100_000,
    "\n" * 10_000_000,
    "\r\n" * 5_000_000,
])
def test_matching_stays_linear(text: str, vocabulary: Vocabulary) -> None:
    start = time.perf_counter()
    read_top_text(text, vocabulary, Location.BODY)
    assert time.perf_counter() - start < 8.0
    assert len(text) > MAX_TRAILER_STAMP


# The gateway's own X-Stamp, on a message it relayed that is now forwarded or resent.

@pytest.mark.parametrize(("value", "expected"), [
    ("none", None),
    ("None", None),
    ("internal", I),
    ("confidential", C),
    ("needs_adjustment", N),
    ("cleared", K),
])
def test_the_gateways_own_x_stamp_is_read_as_what_it_says(
        value: str, expected: Stamp | None, vocabulary: Vocabulary) -> None:
    reading = read_stamps(read_message(plain("Hello, the minutes.\n", X_Stamp=value)),
                          vocabulary)
    assert reading.unreadable == ()
    assert reading.stamp is expected


@pytest.mark.parametrize("value", ["nothing", "none please", "secret", "n/a"])
def test_an_x_stamp_that_is_neither_a_stamp_nor_none_is_unreadable(
        value: str, vocabulary: Vocabulary) -> None:
    reading = read_stamps(read_message(plain("Hello.\n", X_Stamp=value)), vocabulary)
    assert reading.unreadable == ("X-Stamp header with a value that is not a known stamp",)


def test_x_stamp_none_does_not_hide_the_body_stamp(vocabulary: Vocabulary) -> None:
    reading = read_stamps(read_message(plain("Confidential\n\nThe file.\n", X_Stamp="none")),
                          vocabulary)
    assert reading.stamp is C
    assert reading.unreadable == ()


@pytest.mark.parametrize(("text", "expected"), [
    ("C0NFIDENTIAL", Stamp.CONFIDENTIAL),
    ("1NTERNAL", Stamp.INTERNAL),
    ("Intern4l use only", Stamp.INTERNAL),
    ("[C0nf1dent1al]", Stamp.CONFIDENTIAL),
    ("Needs adjustment in 2 ways: blur face, change name", Stamp.NEEDS_ADJUSTMENT),
    ("COVID19 update for the team", None),
    ("The 3D model is attached", None),
    ("2024 report", None),
])
def test_digits_that_read_as_letters_inside_a_word(text: str, expected: Stamp | None,
                                                    vocabulary: Vocabulary) -> None:
    assert top(text + "\n\nThe story.", vocabulary) is expected
