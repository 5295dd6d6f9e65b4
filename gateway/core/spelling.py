"""How people write a label: letter-spaced (``C O N F I``), hyphenated, with one typo."""

from __future__ import annotations

from dataclasses import dataclass

# What may stand between the letters of a letter-spaced word: "C O N F", "C-O-N-F", "C.O.N.F".
_LETTER_GAP = frozenset(" -.·•_*/|‐‑–—")
MAX_LETTER_GAP = 3
# Fewer single letters than this in a row are initials ("J. R."), not a spaced-out word.
MIN_SPACED_LETTERS = 4
# A typo is forgiven only in long words: any one edit from this length on; at
# TRANSPOSED_ONLY letters only two swapped neighbours ("Internla"), because one other letter
# makes another word ("Internal", "Interval").
ANY_EDIT_FROM = 9
TRANSPOSED_ONLY = 8
# Between the words of a phrase: spaces and hyphens ("internal-only", "internal - only").
_WORD_GAP = frozenset(" -‐‑")
MAX_WORD_GAP = 3


@dataclass(frozen=True, slots=True)
class Word:
    """One word at the start of a line, with where it ends (the rest follows from there)."""

    text: str
    end: int


def letter_spaced(text: str) -> tuple[str, int] | None:
    """The letters of a letter-spaced run opening ``text`` and where the run ends.

    The gap between letters must be the same all along ("C O N F", "C-O-N-F"), so that
    ``C O N F I D E N T I A L - do not forward`` ends the run before its trailer. Linear.
    """
    length = len(text)
    index = 0
    end = 0
    letters: list[str] = []
    gap: str | None = None
    while index < length and text[index].isalnum():
        if index + 1 < length and text[index + 1].isalnum():
            break  # a word of several letters: the spaced run, if any, ended before it
        letters.append(text[index])
        end = index + 1
        stop = end
        while stop < length and stop - end < MAX_LETTER_GAP and text[stop] in _LETTER_GAP:
            stop += 1
        this_gap = text[end:stop]
        if not this_gap or stop >= length or not text[stop].isalnum():
            break
        if gap is None:
            gap = this_gap
        elif this_gap != gap:
            break
        index = stop
    if len(letters) < MIN_SPACED_LETTERS:
        return None
    return "".join(letters), end


def leading_words(text: str, limit: int) -> list[Word]:
    """Up to ``limit`` words opening ``text``, while only spaces or hyphens separate them.

    ``&`` counts as the word ``and``. Stops at the first other character, so the work is
    bounded by the words read, not by the line.
    """
    words: list[Word] = []
    length = len(text)
    index = 0
    while index < length and len(words) < limit:
        if text[index] == "&":
            words.append(Word("and", index + 1))
            index += 1
        elif text[index].isalnum():
            start = index
            while index < length and text[index].isalnum():
                index += 1
            words.append(Word(text[start:index], index))
        else:
            break
        gap_start = index
        while index < length and index - gap_start < MAX_WORD_GAP and text[index] in _WORD_GAP:
            index += 1
        if index == gap_start:
            break
    return words


def phrase_words(phrase: str) -> tuple[str, ...]:
    """A folded phrase as the words ``leading_words`` would read from it."""
    return tuple(w.text for w in leading_words(phrase, len(phrase) + 1))


def near(written: str, word: str) -> bool:
    """``written`` is ``word`` or, for a long word, ``word`` with one typo.

    One edit is a substitution, an insertion, a deletion or two neighbours swapped
    (Damerau); words with digits are never forgiven.
    """
    if written == word:
        return True
    size = len(word)
    if size < TRANSPOSED_ONLY or not written.isalpha() or not word.isalpha():
        return False
    if len(written) == size:
        diffs = [i for i in range(size) if written[i] != word[i]]
        if len(diffs) == 1:
            return size >= ANY_EDIT_FROM
        return (len(diffs) == 2 and diffs[1] == diffs[0] + 1
                and written[diffs[0]] == word[diffs[1]] and written[diffs[1]] == word[diffs[0]])
    if size < ANY_EDIT_FROM or abs(len(written) - size) != 1:
        return False
    longer, shorter = (written, word) if len(written) > size else (word, written)
    index = 0
    while index < len(shorter) and longer[index] == shorter[index]:
        index += 1
    return longer[index + 1:] == shorter[index:]
