"""Stricter stamps a reader sees at a text's top that are not a stamp line of their own.

These readings only ever make a message stricter: none of them can clear one.

- Strokes: in the sans-serif fonts mail clients use, a capital ``I``, a small ``l``, a digit
  ``1`` in a word and a bar ``|`` are one vertical stroke, and ``rn`` is drawn as ``m``, so
  ``lnternal``, ``|NTERNAL``, ``Interna1`` and ``Intemal`` read as *Internal*. A line is
  also compared with every stroke as one letter.
- Pieces: ``Private / Confidential``, ``Cleared for publication - not yet, needs
  adjustment``: a stamp between separators (a spaced slash, plus, bar or dash; a semicolon
  or comma) on a line that is not itself a stamp (a marking field's name in front,
  ``Sensitivity: Confidential``, is read by the vocabulary itself, and may clear).
- Past the cap: ten Cleared lines and then a Confidential one: the stamp lines that go on
  past the top's cap still count when stricter.
- Checklists: ``[x] Internal`` is the stamp a box ticked in front of it marks; an unticked
  box written in ASCII (``[ ] Cleared for publication``) takes a Cleared back as ``☐`` does,
  and the checklist's lines after it are still read (``[ ] Cleared`` / ``[x] Internal``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from gateway.core.model import Stamp

if TYPE_CHECKING:
    from gateway.core.vocabulary import StampLine, Vocabulary

# The vertical strokes read as one letter (the folded text has them in lower case).
_STROKES = str.maketrans({"i": "l", "|": "l", "¦": "l", "∣": "l", "ǀ": "l"})
_DIGIT_IN_WORD = re.compile(r"(?<=[^\W\d_])1|1(?=[^\W\d_])")
# Separators between the pieces of a line.
# (Spaced, except in a line of one word: "Internal/external comms plan" is no stamp.)
_PIECE_SEPARATOR = re.compile(r"\s+[/+|;]+\s+|\s*[;,]\s+|\s+[-–—]+\s+")
_WORD_SEPARATOR = re.compile(r"[/+|;]+")
MAX_PIECES = 6
# A box ticked with a letter in front of a line (other ticks, ✓ ☑ ✅, are decoration).
_TICKED = re.compile(r"^\s*[\[(]\s*[xv]\s*[\])]\s*")
# An unticked box in ASCII: [ ], [], [_], ( ).
_UNTICKED = re.compile(r"[\[(]\s*_*\s*[\])]")
# Stamp lines read after the top's cap (MAX_STAMP_LINES), for a stricter stamp.
MAX_CAPPED_LINES = 1000
# Digits that read as letters inside a word of letters ("C0NFIDENTIAL", "1NTERNAL").
_DIGIT_LETTERS = str.maketrans("013457", "oieast")
_WORD = re.compile(r"\w+")
_DIGIT = re.compile(r"\d")


def digits_as_letters(text: str) -> str:
    """``text`` with the digits of words that mix digits and letters read as letters."""
    if _DIGIT.search(text) is None:
        return text
    return _WORD.sub(lambda m: _letters(m.group(0)), text)


def _letters(word: str) -> str:
    mixed = any(c.isdigit() for c in word) and any(c.isalpha() for c in word)
    return word.translate(_DIGIT_LETTERS) if mixed else word


def stroke_skeleton(line: str) -> str:
    """A folded line with every vertical stroke as ``l`` and ``rn`` as the ``m`` it looks
    like: ``lnternal``, ``Intemal`` and ``internal`` give the same skeleton."""
    return _DIGIT_IN_WORD.sub("l", line).translate(_STROKES).replace("rn", "m")


def has_strokes(line: str) -> bool:
    """Whether the skeleton may read otherwise than the line (an ``i`` alone is the same
    letter on both sides)."""
    return "l" in line or "|" in line or "1" in line or "m" in line or "rn" in line


def stricter(parsed: StampLine | None, other: StampLine | None) -> StampLine | None:
    """``other`` where it is a stricter stamp than ``parsed`` and not a Cleared."""
    if other is None or other.stamp is Stamp.CLEARED:
        return parsed
    if parsed is None or other.stamp.rank > parsed.stamp.rank:
        return other
    return parsed


def stricter_piece(vocabulary: Vocabulary, line: str) -> StampLine | None:
    """The strictest stamp, other than Cleared, in a piece of a line that is not a stamp
    itself (``Private / Confidential``, ``PRIVATE/CONFIDENTIAL``)."""
    candidates: list[str] = []
    separator = _WORD_SEPARATOR if " " not in line else _PIECE_SEPARATOR
    pieces = separator.split(line, maxsplit=MAX_PIECES)
    if len(pieces) > 1:
        candidates.extend(pieces)
    best: StampLine | None = None
    for candidate in candidates:
        if candidate and vocabulary.may_open(candidate):
            best = stricter(best, vocabulary.parse_line(candidate))
    return best


def past_cap(vocabulary: Vocabulary, following: Sequence[str],
             add: Callable[[StampLine], None]) -> None:
    """The stamp lines that go on after a top's cap: the stricter ones still count."""
    for line in following[:MAX_CAPPED_LINES]:
        parsed = vocabulary.parse_line(line) if line else None
        if parsed is None:
            return
        if parsed.stamp is not Stamp.CLEARED:
            add(parsed)


def ticked(line: str) -> str | None:
    """The rest of a folded line after a box ticked with a letter (``[x]``, ``(v)``)."""
    found = _TICKED.match(line)
    return line[found.end():] if found is not None else None


def unticked(line: str) -> bool:
    """Whether a folded line holds an unticked box written in ASCII (``[ ]``, ``( )``)."""
    return ("[" in line or "(" in line) and _UNTICKED.search(line) is not None
