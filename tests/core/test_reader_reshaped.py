"""Lines a reader sees a stamp in that are not a stamp as written (core/reshaped.py): letters
struck through, terminal colour codes, list numbers, symbols inside words, a word hyphenated
across lines, upside-down letters; and Cleared lines a trailer or a sign takes back."""

from __future__ import annotations

import pytest

from gateway.core.model import Stamp
from gateway.core.stamps import Vocabulary
from gateway.service.reading import read_now
from tests.core.mail import html, plain

CLEARED = "Cleared for publication"
BODY = "\n\nThe client's story, as we discussed."


def stamp_of(data: bytes, vocabulary: Vocabulary) -> Stamp | None:
    return read_now(data, vocabulary).reading.stamp


def strike(text: str, overlay: str = "\u0336") -> str:
    return "".join(char + overlay for char in text)


@pytest.mark.parametrize("overlay", ["\u0336", "\u0335", "\u0338", "\u0337", "\u20d2"])
def test_a_cleared_struck_through_with_overlays_does_not_clear(vocabulary: Vocabulary,
                                                               overlay: str) -> None:
    assert stamp_of(plain(strike(CLEARED, overlay) + BODY), vocabulary) is None
    assert stamp_of(plain(strike("Cleared", overlay) + " for publication" + BODY),
                    vocabulary) is None


def test_a_struck_cleared_in_html_or_the_subject_does_not_clear(vocabulary: Vocabulary) -> None:
    assert stamp_of(html(f"<p>{strike(CLEARED)}</p><p>The story.</p>"), vocabulary) is None
    assert stamp_of(plain("The story.", subject=f"[{strike(CLEARED)}] Case 12"),
                    vocabulary) is None


def test_a_stricter_stamp_struck_through_still_counts(vocabulary: Vocabulary) -> None:
    assert stamp_of(plain(strike("CONFIDENTIAL") + BODY), vocabulary) is Stamp.CONFIDENTIAL
    # A checklist: the struck Cleared is taken back and the line below still read.
    assert stamp_of(plain(f"{strike(CLEARED)}\nInternal" + BODY), vocabulary) is Stamp.INTERNAL


@pytest.mark.parametrize("line", [f"~~{CLEARED}~~", f"~{CLEARED}~", f"~~{CLEARED}~~ thanks"])
def test_a_cleared_struck_through_the_markdown_way_does_not_clear(vocabulary: Vocabulary,
                                                                  line: str) -> None:
    assert stamp_of(plain(line + BODY), vocabulary) is None


@pytest.mark.parametrize("line", [f"~~~ {CLEARED} ~~~", f"{CLEARED}\u2122",
                                  f"{CLEARED} - thanks, Ana", f"{CLEARED}.\u2605"])
def test_decorated_cleared_lines_still_clear(vocabulary: Vocabulary, line: str) -> None:
    assert stamp_of(plain(line + BODY), vocabulary) is Stamp.CLEARED


@pytest.mark.parametrize(("line", "stamp"), [
    ("CONFIDENTIAL\u2122", Stamp.CONFIDENTIAL),  # NFKC would make it "CONFIDENTIALTM"
    ("CONFI\U0001f512DENTIAL", Stamp.CONFIDENTIAL),
    ("INTER\u2605NAL", Stamp.INTERNAL),
    ("Strictly.Confidential", Stamp.CONFIDENTIAL),
    ("Strictly_Confidential", Stamp.CONFIDENTIAL),
    ("1. Confidential", Stamp.CONFIDENTIAL),
    ("2) Internal", Stamp.INTERNAL),
    ("(C) Confidential", Stamp.CONFIDENTIAL),
    ("[iv] Internal", Stamp.INTERNAL),
    ("\x1b[1;31mCONFIDENTIAL\x1b[0m", Stamp.CONFIDENTIAL),
    ("CONFI-\nDENTIAL", Stamp.CONFIDENTIAL),
    ("Strictly confi-\ndential", Stamp.CONFIDENTIAL),
    ("\ua781\u0250\u0131\u0287u\u01ddp\u0131\u025fuo\u0254", Stamp.CONFIDENTIAL),  # upside down
    ("\ua781\u0250u\u0279\u01dd\u0287u\u0131", Stamp.INTERNAL),
    ("Classification = Confidential", Stamp.CONFIDENTIAL),
    ("Classification\nConfidential", Stamp.CONFIDENTIAL),  # a field's name alone on its line
    ("Sensitivity:\nInternal", Stamp.INTERNAL),
    ("CONFIDENTIAL(TM)", Stamp.CONFIDENTIAL),
    ("Strictly\nconfidential", Stamp.CONFIDENTIAL),  # a phrase broken across two lines
    ("Private &\nConfidential", Stamp.CONFIDENTIAL),
    ("For\ninternal use only", Stamp.INTERNAL),
])
def test_a_stamp_reshaped_counts(vocabulary: Vocabulary, line: str, stamp: Stamp) -> None:
    assert stamp_of(plain(line + BODY), vocabulary) is stamp
    # Under a Cleared line too: consecutive stamp lines, the strictest wins.
    assert stamp_of(plain(f"{CLEARED}\n{line}" + BODY), vocabulary) is stamp


@pytest.mark.parametrize("line", [
    f"{strike(CLEARED)}",
    f"{CLEARED}\u0336",
    "~Cleared~ for publication",
    f"1. {CLEARED}",  # read for a stricter stamp only
    "1. Cleared for publication?",
    # "Cleared for publication" upside down
    "\u0287\u0131\u0287\u0250\u0254\u0131\u05df\u0250nd \u0279o\u025f "
    "p\u01dd\u0279\u0250\u01ddl\u0254",
])
def test_no_reshaping_clears(vocabulary: Vocabulary, line: str) -> None:
    assert stamp_of(plain(line + BODY), vocabulary) is not Stamp.CLEARED


@pytest.mark.parametrize("line", [
    "1. Internal review of the case starts Monday.",
    "Internal audit / external comms plan attached",
    "Non-confidential summary below",
    "Hi all - the confi-",
    "C.V. attached, as discussed",
    "\u0186y\u025b kwan pa.",  # Twi, with its open o and open e
    "Hello\nConfidential matters are for the call.",
    "Company\nConfidential Services Ltd wrote back.",
    "Systm\nInternal",
])
def test_ordinary_first_lines_stay_unstamped(vocabulary: Vocabulary, line: str) -> None:
    assert stamp_of(plain(line + BODY), vocabulary) is None


@pytest.mark.parametrize("trailer", [": false", " - draft", " (TBD)", ": n/a", " - maybe",
                                     " \U0001f44e", " \U0001f44e\U0001f3fd", " - brouillon"])
def test_a_trailer_that_takes_the_clearance_back(vocabulary: Vocabulary, trailer: str) -> None:
    assert stamp_of(plain(CLEARED + trailer + BODY), vocabulary) is None
    assert stamp_of(plain("The story.", subject=f"{CLEARED}{trailer}"), vocabulary) is None


@pytest.mark.parametrize(("markup", "stamp"), [
    ("<dl><dt>Classification</dt><dd>Confidential</dd></dl>", Stamp.CONFIDENTIAL),
    ("<p>CONFIDENTIAL<sup>TM</sup></p>", Stamp.CONFIDENTIAL),
    ("<p>INTER-<br>NAL</p>", Stamp.INTERNAL),
])
def test_html_drawn_the_same_ways_counts(vocabulary: Vocabulary, markup: str,
                                        stamp: Stamp) -> None:
    assert stamp_of(html(markup + "<p>The story.</p>"), vocabulary) is stamp


@pytest.mark.parametrize(("subject", "stamp"), [
    ("CONFIDENTIAL\u2122 case 12", Stamp.CONFIDENTIAL),
    ("CONFI\U0001f512DENTIAL: case 12", Stamp.CONFIDENTIAL),
    ("Strictly.Confidential - case 12", Stamp.CONFIDENTIAL),
    ("[Strictly_Confidential] case 12", Stamp.CONFIDENTIAL),
    ("1. Confidential: case 12", Stamp.CONFIDENTIAL),
    ("#confidential case 12", Stamp.CONFIDENTIAL),
    ("Case 12 #internal", Stamp.INTERNAL),
    ("\ua781\u0250\u0131\u0287u\u01ddp\u0131\u025fuo\u0254", Stamp.CONFIDENTIAL),
])
def test_a_subject_reshaped_counts(vocabulary: Vocabulary, subject: str, stamp: Stamp) -> None:
    assert stamp_of(plain("Hello,\n\nThe story.", subject=subject), vocabulary) is stamp


@pytest.mark.parametrize("subject", ["#team update", "1. Agenda for Monday", "#1 priority",
                                     "Acme\u2122 newsletter #12", "Strictly business",
                                     "C.V. of the new intern", "#internalcomms weekly"])
def test_ordinary_subjects_stay_unstamped(vocabulary: Vocabulary, subject: str) -> None:
    assert stamp_of(plain("Hello,\n\nThe story.", subject=subject), vocabulary) is None


@pytest.mark.parametrize(("below", "stamp"), [("Needs adjustment: blur face",
                                               Stamp.NEEDS_ADJUSTMENT),
                                              ("Confidential", Stamp.CONFIDENTIAL)])
def test_a_cleared_that_asks_is_no_stamp_and_the_lines_below_count(
        vocabulary: Vocabulary, below: str, stamp: Stamp) -> None:
    assert stamp_of(plain(f"{CLEARED}?" + BODY), vocabulary) is None
    assert stamp_of(plain(f"{CLEARED}?\n{below}" + BODY), vocabulary) is stamp
    # A Subject that asks something after its stamp still clears.
    assert stamp_of(plain("The story.", subject=f"{CLEARED} - ready to send?"),
                    vocabulary) is Stamp.CLEARED


@pytest.mark.parametrize(("line", "stamp"), [
    ("Internal/external comms plan attached", None),  # a slash against a word joins them
    ("Internal/Confidential", Stamp.CONFIDENTIAL),
    ("INTERNAL/CONFIDENTIAL - do not forward", Stamp.CONFIDENTIAL),
    ("Cleared/approved for publication", Stamp.CLEARED),
    ("Internal / external", Stamp.INTERNAL),  # spaced: a stamp and its trailer
])
def test_a_slash_against_a_word_joins_it_to_the_stamp(vocabulary: Vocabulary, line: str,
                                                      stamp: Stamp | None) -> None:
    assert stamp_of(plain(line + BODY), vocabulary) is stamp


@pytest.mark.parametrize(("subject", "stamp"), [
    ("CONFIDENTIAL Case update", Stamp.CONFIDENTIAL),
    ("RE: STRICTLY CONFIDENTIAL case 12", Stamp.CONFIDENTIAL),
    ("Case 12 INTERNAL notes", Stamp.INTERNAL),
    ("Fwd: \u0421ONFIDENTIAL Case", Stamp.CONFIDENTIAL),  # a Cyrillic capital Es
    ("URGENT Please read", None),
    ("ALL OF IT IN CAPITALS", None),
    ("Case 12 - CLEARED FOR PUBLICATION notes", None),  # capitals set apart no Cleared
    ("INTERNAL AUDIT report", None),  # a sentence in capitals is still one
])
def test_capitals_set_a_stamp_apart_in_the_subject(vocabulary: Vocabulary, subject: str,
                                                   stamp: Stamp | None) -> None:
    assert stamp_of(plain("Hello,\n\nThe story.", subject=subject), vocabulary) is stamp


@pytest.mark.parametrize(("markup", "stamp"), [
    (f"<p><input type=checkbox> {CLEARED}</p>", None),  # an unticked box
    (f"<p><input type=radio name=s> {CLEARED}</p>", None),
    (f"<p><input type=checkbox checked> {CLEARED}</p>", Stamp.CLEARED),
    (f"<p style='-webkit-text-decoration-line: line-through'>{CLEARED}</p>", None),
    (f"<p style='-webkit-text-decoration: line-through red'>{CLEARED}</p>", None),
    ("<p><input type=checkbox> Confidential</p>", Stamp.CONFIDENTIAL),
])
def test_html_boxes_and_webkit_strikes(vocabulary: Vocabulary, markup: str,
                                       stamp: Stamp | None) -> None:
    assert stamp_of(html(markup + "<p>The story.</p>"), vocabulary) is stamp


@pytest.mark.parametrize(("line", "count"), [("Needs adjustment x2", 2),
                                             ("Needs adjustment x 2: blur face, change name", 2),
                                             ("Needs adjustment \u00d73", 3)])
def test_a_count_written_as_times(vocabulary: Vocabulary, line: str, count: int) -> None:
    reading = read_now(plain(line + BODY), vocabulary).reading
    assert reading.stamp is Stamp.NEEDS_ADJUSTMENT
    assert reading.stated_count == count


def test_terminal_codes_in_a_subject_set_the_stamp_apart(vocabulary: Vocabulary) -> None:
    data = plain("Hello,\n\nThe story.", subject="\x1b[1mCONFIDENTIAL\x1b[0m case 12")
    assert stamp_of(data, vocabulary) is Stamp.CONFIDENTIAL


@pytest.mark.parametrize(("line", "stamp"), [
    ("Cleared for publication - not yet, needs adjustment: blur face",
     Stamp.NEEDS_ADJUSTMENT),
    ("Cleared for publication: no, confidential", Stamp.CONFIDENTIAL),
    ("Hi Ana, internal audit starts Monday.", None),
    ("Thanks, Confidential Services Ltd", None),
])
def test_a_stamp_after_a_comma_counts_where_stricter(vocabulary: Vocabulary, line: str,
                                                     stamp: Stamp | None) -> None:
    assert stamp_of(plain(line + BODY), vocabulary) is stamp
