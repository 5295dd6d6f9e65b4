"""Letters read by the shape they are drawn with, for stricter stamps only.

The folded text (``core/text.py``) compares letters in lower case, so a capital of another
script is read as its small letter: a Greek ``Ν`` as ``ν``, which looks like a ``v``. A
reader sees the capital, drawn as the Latin capital ``N``. Latin letters with a hook, a
stroke or a bar (``Ƈ``, ``Ø``, ``Ƚ``) have no decomposition that drops the decoration, so
the folding keeps them as other letters; a reader sees the letter under the decoration.
``shaped(text)`` is the text with both drawn as the Latin letter: a reading that can make a
message stricter (``ΙΝΤΕRΝΑL``, ``ƇØƝƑƗƊƐƝƬƗȺȽ``), never clear one.
"""

from __future__ import annotations

import re
import unicodedata

from gateway.core.confusables import LOOK_ALIKES

# "LATIN CAPITAL LETTER C WITH HOOK", "LATIN SMALL LETTER L WITH BAR": the letter decorated.
_DECORATED = re.compile(r"LATIN (CAPITAL|SMALL) LETTER ([A-Z]) WITH ")
# The beginning of a text read this way: its top, where a stamp stands (characters).
SHAPED_CHARS = 8192


def _capitals() -> dict[str, str]:
    """Capitals of other scripts that TR39 lists as a Latin letter, as that capital (its
    vertical strokes, given as ``l``, as the ``I`` a capital is)."""
    table: dict[str, str] = {}
    for letter, chars in LOOK_ALIKES.items():
        for char in chars:
            if not char.isascii() and char.isupper():
                table[char] = "I" if letter == "l" else letter.upper()
    return table


_CAPITALS = _capitals()
# Letters whose names do not say what they are drawn as: an eng is an n with a tail, a kra
# a small capital k.
_CAPITALS.update({"Ŋ": "N", "ŋ": "n", "ĸ": "k"})


class _ShapeTable(dict[int, str]):
    """``str.translate`` table filled on first use of each code point."""

    def __missing__(self, point: int) -> str:
        char = chr(point)
        shape = _CAPITALS.get(char, char)
        if shape == char and not char.isascii() and not unicodedata.decomposition(char):
            decorated = _DECORATED.match(unicodedata.name(char, ""))
            if decorated is not None:
                letter = decorated.group(2)
                shape = letter if decorated.group(1) == "CAPITAL" else letter.lower()
        self[point] = shape
        return shape


_TABLE = _ShapeTable()


def shaped(text: str) -> str | None:
    """The top of ``text`` with its letters read by their shape; None when that reads the
    same as the text."""
    top = text[:SHAPED_CHARS]
    if top.isascii():
        return None
    if len(top) < len(text):
        top = top[:top.rfind("\n") + 1] or top
    out = top.translate(_TABLE)
    return None if out == top else out
