"""Lines a reader sees a stamp in that the vocabulary does not read as written.

Each reading here makes a message stricter or takes a Cleared back; none can clear one.

- Struck out: letters struck through with combining overlays (``C̶l̶e̶a̶r̶e̶d̶``) or a line
  wrapped in tildes the way Markdown strikes text through (``~~Cleared for publication~~``)
  are read like struck-through HTML: a Cleared in them is taken back, a stricter stamp
  still counts.
- Reshaped, for a line at a text's top that is not a stamp as written:
  - what is left of a terminal's colour codes once their escape character is dropped
    (``[1mCONFIDENTIAL[0m``), as a separator: a change of style sets words apart;
  - a list number or a portion mark in front (``1. Confidential``, ``(C) Confidential``);
  - symbols and punctuation inside or between words, read as nothing and as a space
    (``CONFI🔒DENTIAL``, ``Strictly.Confidential``, ``Strictly_Confidential``);
  - a word hyphenated at the line's end, joined with the next line (``CONFI-`` /
    ``DENTIAL``), a marking field's name alone on its line with the next line as its
    value (``Classification`` / ``Confidential``, a definition list's term and value), and
    a short line that begins a phrase the next line ends (``Strictly`` / ``Confidential``);
  - a trademark's letters glued to the word (``CONFIDENTIAL<sup>TM</sup>``);
  - upside-down letters (``ꞁɐıʇuǝpıɟuoɔ``), turned back and read right to left.
- Capitals in a Subject (``CONFIDENTIAL Case update``, ``Case 12 CONFIDENTIAL notes``) set
  a stamp apart from the words around them, as a tag's brackets do.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from gateway.core.model import Stamp
from gateway.core.text import STRUCK

if TYPE_CHECKING:
    from gateway.core.vocabulary import StampLine, Vocabulary

# Markdown's strike-through: tildes against the first and the last letter.
_TILDES = re.compile(r"^~+(?=[^\s~])[^~]*[^\s~]~+")
# A terminal's colour and style codes after the escape character was dropped as a control.
_ESCAPE_CODES = re.compile(r"\[[\d;]{0,12}[a-z]")
# A list number or a portion mark in front: "1.", "2)", "(a)", "[iv]", "(c)", "(u)".
_LIST_MARK = re.compile(r"^(?:\(?[a-z\d]{1,3}[.)]|\[[a-z\d]{1,3}\])\s*")
# Symbols and punctuation between two letters: "CONFI🔒DENTIAL", "Strictly.Confidential".
_BETWEEN_LETTERS = re.compile(r"(?<=[^\W\d_])(?:[^\w\s]|_)+(?=[^\W\d_])")
# Upside-down letters as the folded text has them, turned back (ɯ and ʍ fold to w and m).
_UPSIDE_DOWN = frozenset("ɐɔǝɟƃɥɾʞꞁɹʇʌʎ")
_TURNED = str.maketrans("ɐɔǝɟƃɥɾʞꞁɹʇʌʎwmunpdbq", "acefghjklrtvymwnudpqb")
# A reply or forward prefix in front of a Subject, as written ("RE:", "Fwd:", "AW:").
_PREFIXED = re.compile(r"^(?:\s*[^\W\d_]{2,4}\s*:)+")
# A marking field's name has up to three words ("Protective marking", "Classification level").
_FIELD_WORDS = 3
# Lines longer than this are sentences, not stamps: not reshaped.
MAX_RESHAPED = 120


def struck(line: str) -> str | None:
    """A folded line with letters struck through, as its letters alone; None if none are."""
    if STRUCK in line:
        return line.replace(STRUCK, "")
    if line.startswith("~") and _TILDES.match(line) is not None:
        return line.replace("~", " ")
    return None


def struck_out(vocabulary: Vocabulary, letters: str) -> StampLine | None:
    """The stamp of a struck-out line's letters, unless it is a Cleared (taken back)."""
    parsed = vocabulary.parse_line(" ".join(letters.split()))
    return None if parsed is None or parsed.stamp is Stamp.CLEARED else parsed


def stricter_reshaped(vocabulary: Vocabulary, line: str, following: str) -> StampLine | None:
    """The strictest stamp, other than Cleared, a reader sees in a top line that is not a
    stamp as written (``following``: the next line, for a word hyphenated across them)."""
    if len(line) > MAX_RESHAPED:
        return None
    candidates: list[str] = []
    if "[" in line:  # a style that starts or ends sets the words apart, as a tag does
        candidates.append(_ESCAPE_CODES.sub(" - ", line))
    if (mark := _LIST_MARK.match(line)) is not None:
        candidates.append(line[mark.end():])
    if _BETWEEN_LETTERS.search(line) is not None:
        candidates.append(_BETWEEN_LETTERS.sub("", line))
        candidates.append(_BETWEEN_LETTERS.sub(" ", line))
    if following:
        following = following[:MAX_RESHAPED]
        if len(line) > 1 and line[-1] == "-" and line[-2].isalpha():
            candidates.append(line[:-1] + following)
        if line.count(" ") < _FIELD_WORDS:  # a field's name alone: "Classification"
            candidates.append(line.rstrip(":=-–— ") + ": " + following)
            candidates.append(line + " " + following)  # a phrase broken: "Strictly" / "..."
    if not _UPSIDE_DOWN.isdisjoint(line):
        candidates.append(line.translate(_TURNED)[::-1])
    candidates.extend([c[:-2] for c in (line, *candidates) if c.endswith("tm")])  # "…ALTM"
    best: StampLine | None = None
    for candidate in dict.fromkeys(candidates):
        if candidate != line and vocabulary.may_open(candidate):
            parsed = vocabulary.parse_line(" ".join(candidate.split()))
            if parsed is not None and parsed.stamp is not Stamp.CLEARED and (
                    best is None or parsed.stamp.rank > best.stamp.rank):
                best = parsed
    return best


def capitals(subject: str) -> list[str]:
    """The runs of words in capitals in a Subject (as written) that also has words not in
    capitals: ``CONFIDENTIAL`` of ``RE: CONFIDENTIAL Case update`` or ``Case 12 CONFIDENTIAL
    notes``."""
    subject = _PREFIXED.sub("", subject[:MAX_RESHAPED])
    if subject.upper() == subject:  # all in capitals, or no letter that has a case
        return []
    words = subject.split()
    runs: list[str] = []
    start = None
    for index, word in enumerate([*words, ""]):
        if word.isupper():
            start = index if start is None else start
        elif start is not None:
            runs.append(" ".join(words[start:index]))
            start = None
    return runs
