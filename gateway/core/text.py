"""Text folded as a reader sees it: invisibles out, blanks blank, look-alikes as Latin letters."""

from __future__ import annotations

import re
import unicodedata

from gateway.core.confusables import LOOK_ALIKES

# Default_Ignorable_Code_Point (Unicode DerivedCoreProperties) and the bidi controls: they
# display as nothing, so a word broken up with them reads as the word.
_IGNORABLE_RANGES = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
    (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFFB), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
# Control characters (C0 and C1 but the line and tab ones, DEL): Chromium and WebKit draw
# them at no width, so a word broken up with them reads as the word.
_CONTROL_RANGES = ((0x00, 0x08), (0x0E, 0x1F), (0x7F, 0x84), (0x86, 0x9F))
_ASCII_CONTROLS = bytes(list(range(0x00, 0x09)) + list(range(0x0E, 0x20)) + [0x7F])
# Characters that are not spaces to Unicode but display as an empty cell.
_BLANK = frozenset("\u2800\u3000\u2007\u202f\u205f\u00a0")
# Arabic: tatweel stretches a word without changing it; the letters below are written
# interchangeably (hamza seats, Persian yeh and keheh for the Arabic ones, final forms).
_ARABIC_FOLD = {"\u0640": "", "ى": "ي", "ی": "ي", "ک": "ك", "ة": "ه", "أ": "ا", "إ": "ا",
                "آ": "ا", "ٱ": "ا"}
_MARKS = frozenset({"Mn", "Me"})
# Overlays that strike a letter through (short and long strokes, solidi, vertical lines): a
# word written with them is struck out. The stamp reader keeps each as one mark, ``STRUCK``
# (a private-use character), where other combining marks go.
_STRIKES = re.compile("[\u0334-\u0338\u20d2\u20d3\u20e5\u20e6\u20eb]")
STRUCK = "\ue000"
# Signs drawn as small raised letters after a word: "CONFIDENTIAL™" is the word and a sign,
# not the letters "TM" glued to it (NFKC's reading).
_RAISED_SIGNS = frozenset("™℠")
# Three blank lines or more look like two: the reader walks one line less per blank line
# (megabytes of empty lines cost nothing); the pattern is linear, it only starts at a newline.
_BLANK_RUN = re.compile(r"\n(?:[ \t\r\f\v]*\n){3,}")
_TWO_BLANK_LINES = "\n\n\n"


def _latin_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for letter, chars in LOOK_ALIKES.items():
        for char in chars:
            table[char] = letter
    return table


_LATIN = _latin_table()


def _fancy_table() -> dict[str, str]:
    """Letters of "fancy text" generators that TR39 does not list as Latin, or lists as
    another letter: enclosed and regional-indicator capitals (🅲, 🅒, 🇨), Canadian syllabics
    and Cherokee drawn as Latin capitals, and the vertical strokes read as a capital I in a
    capitalised word (Lisu ꓲ, Cherokee Ꮖ; TR39 gives them ``l``)."""
    table: dict[str, str] = {}
    for start in (0x1F130, 0x1F150, 0x1F170, 0x1F1E6):  # squared, negative circled and
        for offset in range(26):                         # squared, regional indicators
            table[chr(start + offset)] = chr(ord("a") + offset)
    for chars, letters in (("ᗩᗷᑕᗪᗴᖴᘜᕼᒍᒪᗰᑎᑭᑫᖇᔕᑌᐯᗯ᙭ᘔ", "abcdefghjlmnpqrsuvwxz"),
                           ("ᎪᏴᏟᎠᎬᏀᎻᏆᏦᏞᎷᎾᏢᏒᏚᎢᏙᏔᏃ", "abcdeghiklmoprstvwz"),
                           ("ꓲ", "i")):
        for char, letter in zip(chars, letters, strict=True):
            table[char] = letter
            table.setdefault(char.casefold(), letter)  # Cherokee folds to its small letters
    return table


_FANCY = _fancy_table()


def is_ignorable(char: str) -> bool:
    """A code point that displays as nothing (variation selectors, tags, joiners, bidi)."""
    point = ord(char)
    return (any(low <= point <= high for low, high in _IGNORABLE_RANGES)
            or any(low <= point <= high for low, high in _CONTROL_RANGES))


def fold_char(char: str) -> str:
    """One character of NFC text as the stamp reader compares it (empty for an invisible one).

    A combining mark still separate after NFC is decoration (a mark on every letter) or an
    Arabic haraka, and goes; precomposed accents stay, they make another word. Compatibility
    forms that are ASCII come next (a mathematical capital I is an ``i``); then case is
    folded, so that the look-alikes of capital ``I`` read as ``i``, not as the ``l`` that
    TR39 gives them.
    """
    if char.isascii():
        return "" if char.encode() in _ASCII_CONTROLS else char.lower()
    if is_ignorable(char) or unicodedata.category(char) in _MARKS:
        return ""
    if char in _BLANK or char.isspace():
        return " "
    if char in _RAISED_SIGNS:
        return char
    if char in _FANCY:
        return _FANCY[char]
    compat = unicodedata.normalize("NFKC", char)
    if compat.isascii():
        if len(compat) == 3 and compat[0] == "(" and compat[2] == ")":
            return compat[1].lower()  # ⒞: a parenthesized letter reads as the letter
        return compat.lower()  # fullwidth and mathematical letters, ligatures
    folded = char.casefold()
    if folded in _FANCY:
        return _FANCY[folded]
    if folded in _LATIN:
        return _LATIN[folded]
    out: list[str] = []
    for piece in unicodedata.normalize("NFC", compat.casefold()):
        if unicodedata.category(piece) in _MARKS or is_ignorable(piece):
            continue
        piece = _ARABIC_FOLD.get(piece, piece)
        out.append(_LATIN.get(piece, piece))
    return "".join(out)


def without_accents(text: str) -> str:
    """Folded text with its accents removed too: the Latin skeleton of ``Cönfidéntiál``."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if unicodedata.category(c) not in _MARKS))


class _FoldTable(dict[int, str]):
    """``str.translate`` table filled on first use of each code point (the work stays linear)."""

    def __missing__(self, point: int) -> str:
        folded = fold_char(chr(point))
        self[point] = folded
        return folded


_TABLE = _FoldTable()


def fold(text: str, *, strikes: bool = False) -> str:
    """``text`` with every character folded by ``fold_char`` (line breaks kept); with
    ``strikes``, each overlay that strikes a letter through kept as ``STRUCK``."""
    if text.isascii():  # nothing confusable or NFKC-variant in ASCII; controls draw nothing
        raw = text.encode("ascii")
        kept = raw.translate(None, _ASCII_CONTROLS)
        return (text if len(kept) == len(raw) else kept.decode("ascii")).lower()
    composed = unicodedata.normalize("NFC", text)
    if strikes and _STRIKES.search(composed) is not None:
        composed = _STRIKES.sub(STRUCK, composed)
    return composed.translate(_TABLE)


def normalise_text(text: str) -> str:
    """Fold a text so that spelling tricks compare equal to the plain phrase.

    Keeps line structure; collapses runs of spaces within a line.
    """
    return "\n".join(normalised_lines(text))


def normalised_lines(text: str) -> list[str]:
    """``normalise_text`` split into its lines (the form the stamp reader walks).

    A line of characters that all display blank (braille blank, Hangul fillers, NBSP) is
    an empty line; more than two blank lines in a row are read as two.
    """
    # str.split() splits on every Unicode space (NBSP, em space, ideographic space, ...).
    folded = _BLANK_RUN.sub(_TWO_BLANK_LINES, fold(text, strikes=True))
    return list(map(" ".join, map(str.split, folded.split("\n"))))


def normalise_phrase(phrase: str) -> str:
    """A vocabulary phrase in the same folded form as ``normalise_text``."""
    return " ".join(normalise_text(phrase).split())
