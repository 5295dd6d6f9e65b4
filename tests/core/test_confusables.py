"""Text that displays as a stamp reads as that stamp: look-alikes, invisibles, blanks, marks."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

from gateway.core import confusables
from gateway.core.model import Location, Stamp
from gateway.core.stamps import Vocabulary, read_top_text
from gateway.core.text import fold_char, normalise_text, normalised_lines

C, I, K = Stamp.CONFIDENTIAL, Stamp.INTERNAL, Stamp.CLEARED  # noqa: E741
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "confusables_table.py"


def top(text: str, vocabulary: Vocabulary) -> Stamp | None:
    found = read_top_text(text, vocabulary, Location.BODY)
    return max((f.stamp for f in found), key=lambda s: s.rank, default=None)


@pytest.mark.parametrize(("text", "expected"), [
    # look-alike letters from other scripts and Unicode blocks
    ("ᴄᴏɴꜰɪᴅᴇɴᴛɪᴀʟ", C),  # small capitals
    ("Confidenti\u0251l", C),  # Latin alpha
    ("C\u043enfidential", C),  # Cyrillic o
    ("\u0421\u041eNF\u0406DENT\u0406AL", C),  # Cyrillic capitals, Byelorussian I
    ("\u03f2onfidential", C),  # Greek lunate sigma
    ("Int\u0435rn\u0251l", I),
    ("\u13dfonfidential", C),  # Cherokee
    ("Confidenti\u0561l", C),  # Armenian ayb shows as w: one typo in a long word
    ("C\u0585nfidential", C),  # Armenian oh
    ("\U0001d402\U0001d40e\U0001d40d\U0001d405\U0001d408\U0001d403\U0001d404\U0001d40d"
     "\U0001d413\U0001d408\U0001d400\U0001d40b", C),  # mathematical bold
    ("\uff29\uff4e\uff54\uff45\uff52\uff4e\uff41\uff4c", I),  # fullwidth
    # invisible code points inside the word
    ("Con\ufe0ffiden\ufe0etial", C),  # variation selectors
    ("Conf\U000e0041idential\U000e007f", C),  # tag characters
    ("In\u200dter\u200cnal", I),  # joiners
    ("Inter\u00adnal", I),  # soft hyphen
    ("Confi\u2060dential", C),  # word joiner
    ("\u202eConfidential\u202c", C),  # bidi override
    ("\u2067Internal\u2069", I),  # isolate
    ("Int\u3164ernal", I),  # Hangul filler is default-ignorable
    # combining marks on every letter
    ("".join(c + "\u0332" for c in "Confidential"), C),
    ("".join(c + "\u0336" for c in "Internal"), I),
    ("C\u0301o\u0301n\u0301f\u0301i\u0301d\u0301e\u0301n\u0301t\u0301i\u0301a\u0301l\u0301", C),
])
def test_text_that_displays_as_a_stamp_is_read(text: str, expected: Stamp | None,
                                               vocabulary: Vocabulary) -> None:
    assert top(text, vocabulary) is expected
    assert top(f"\n{text}\n\nThe file is attached.\n", vocabulary) is expected


@pytest.mark.parametrize("blank", [
    "\u2800\u2800\u2800", "\u3164", "\u115f\u1160", "\uffa0", "\u00a0\u00a0", "\u3000",
    "\u2002\u2003", "\u200b", "\ufeff", "\u2800 \u3164 \u00a0",
])
def test_a_line_that_displays_blank_does_not_hide_the_stamp_below(
        blank: str, vocabulary: Vocabulary) -> None:
    assert normalised_lines(blank) == [""]
    assert top(f"{blank}\n{blank}\nConfidential\nHello", vocabulary) is C
    # and a blank-looking line is not the top line a reader would see as text
    assert top(f"{blank}\nNotes from today\nConfidential", vocabulary) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("Конфиденциально", C),  # Russian keeps matching its own words
    ("КОНФИДЕНЦИАЛЬНО", C),
    ("Внутренний", I),
    ("محرمانه", C),
    ("داخلی", I),
    ("سـرّي", C),
    ("Autorisé pour publication", K),
    ("Autorise pour publication", None),  # accents written in a phrase are kept
    ("Конференция завтра", None),
    ("Interval", None),
    ("Cоnfidentiality is our first duty", None),
])
def test_other_scripts_match_their_own_words_only(text: str, expected: Stamp | None,
                                                  vocabulary: Vocabulary) -> None:
    assert top(text, vocabulary) is expected


def test_folding_keeps_ordinary_text_readable() -> None:
    assert normalise_text("Bonjour Amélie,\nمرحبا") == "bonjour amélie,\nمرحبا"
    assert fold_char("\u0130") == "i"
    assert fold_char("\u2800") == " "
    assert fold_char("\U000e0020") == ""


def test_the_look_alike_table_is_what_the_generator_writes() -> None:
    spec = importlib.util.spec_from_file_location("confusables_table", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.render(module.latin_letters())
    assert Path(confusables.__file__).read_text(encoding="utf-8") == expected


@pytest.mark.parametrize("text", [
    "x\u0301" * 500_000,  # 1 MB line of letters with marks
    "\u2800" * 1_000_000,
    "Confidential " + "\u200b" * 1_000_000,
])
def test_long_lines_are_folded_quickly(text: str, vocabulary: Vocabulary) -> None:
    start = time.perf_counter()
    read_top_text(text, vocabulary, Location.BODY)
    assert time.perf_counter() - start < 2.0
