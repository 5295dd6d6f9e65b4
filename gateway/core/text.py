"""Text normalisation used to compare stamp phrases: NFKC, invisibles, confusables, case."""

from __future__ import annotations

import re
import unicodedata

# Characters that render as nothing (or as a plain space) and are used to break words apart.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad"
             "\u034f\u061c\u180e\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"),
    None,
)

# Letters from other scripts that look like Latin letters (Unicode confusables, the common
# Cyrillic, Greek and Armenian ones); a stamp written with them must still be read.
_CONFUSABLES = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "с": "c", "ԁ": "d", "е": "e", "һ": "h", "і": "i", "ј": "j",
        "к": "k", "ӏ": "l", "м": "m", "н": "h", "о": "o", "р": "p", "ԛ": "q", "ѕ": "s",
        "т": "t", "у": "y", "ѡ": "w", "х": "x", "ԝ": "w", "ү": "y", "ɡ": "g",
        "А": "a", "В": "b", "С": "c", "Е": "e", "Н": "h", "І": "i", "Ј": "j", "К": "k",
        "М": "m", "О": "o", "Р": "p", "Ѕ": "s", "Т": "t", "Х": "x", "Ү": "y", "Ԁ": "d",
        "Ӏ": "l", "Ԛ": "q", "Ԝ": "w",
        # Greek
        "α": "a", "ο": "o", "ι": "i", "ν": "v", "ρ": "p", "τ": "t", "υ": "u", "κ": "k",
        "Α": "a", "Β": "b", "Ε": "e", "Ζ": "z", "Η": "h", "Ι": "i", "Κ": "k", "Μ": "m",
        "Ν": "n", "Ο": "o", "Ρ": "p", "Τ": "t", "Υ": "y", "Χ": "x",
        # Armenian and Latin look-alikes outside ASCII
        "օ": "o", "ս": "u", "ց": "g", "ı": "i", "İ": "i", "ℓ": "l", "ǀ": "l",
    }
)

# Arabic marks that do not change a word: tatweel and the harakat.
_ARABIC_MARKS = re.compile("[\u0640\u064b-\u065f\u0670\u06d6-\u06ed]")
_ARABIC_LETTERS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"})


def normalise_text(text: str) -> str:
    """Fold a text so that spelling tricks compare equal to the plain phrase.

    Keeps line structure; collapses runs of spaces within a line.
    """
    return "\n".join(normalised_lines(text))


def normalised_lines(text: str) -> list[str]:
    """``normalise_text`` split into its lines (the form the stamp reader walks)."""
    if text.isascii():
        text = text.lower()  # nothing invisible, confusable or NFKC-variant in ASCII
    else:
        text = unicodedata.normalize("NFKC", text.translate(_INVISIBLE))
        text = _ARABIC_MARKS.sub("", text).translate(_ARABIC_LETTERS)
        text = text.translate(_CONFUSABLES).casefold()
    # str.split() splits on every Unicode space (NBSP, em space, ideographic space, ...).
    return list(map(" ".join, map(str.split, text.split("\n"))))


def normalise_phrase(phrase: str) -> str:
    """A vocabulary phrase in the same folded form as ``normalise_text``."""
    return " ".join(normalise_text(phrase).split())
