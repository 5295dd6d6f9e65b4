"""Protected values as match keys: folded, transliterated tokens and consonant skeletons."""

from __future__ import annotations

import enum
import functools
import re
import unicodedata
from typing import assert_never

from anyascii import anyascii

from gateway.core.text import fold, is_ignorable

# A token key is a prefixed token: ``x:`` the folded, transliterated spelling; ``s:`` its
# consonant skeleton. A value's key is a tuple of token keys of one kind.
EXACT = "x:"
SKELETON = "s:"
Key = tuple[str, ...]

# An apostrophe, with the ``s`` of a possessive after it (``Amina's`` is ``Amina``).
_APOSTROPHE = re.compile(r"['`´’ʼʻ](?:s\b)?")
_MARKS = frozenset({"Mn", "Me"})
# Spellings of one sound across transliteration schemes (Arabic, Cyrillic, Ge'ez, Latin).
_DIGRAPHS = (("dzh", "j"), ("dj", "j"), ("kh", "h"), ("ch", "k"), ("gh", "g"), ("sh", "s"),
             ("ph", "f"), ("th", "t"), ("dh", "d"), ("ck", "k"))
_LETTERS = str.maketrans({"q": "k", "c": "k", "z": "s", "x": "ks"})
# Vowels, and the semivowels Arabic script writes where Latin spellings write a vowel
# (``يوسف`` is ``ywsf``, ``Yusuf`` is ``ysf``).
_VOWELS = frozenset("aeiouyw")
# Arabic article particles, written or left out at will (``Mohammad Al Haddad``): skeleton
# keys skip them on both sides.
PARTICLES = frozenset({"al", "el"})
# A skeleton key shorter than this over all its tokens is too loose to hold mail for.
MIN_SKELETON = 4


class Shape(enum.Enum):
    """How a value may be written in mail besides its exact spelling."""

    EXACT = "exact"  # the spelling only (facts, pseudonyms, one-word names)
    NAME = "name"  # also the skeleton, the surname first, and the initial of the given name


def _plain(text: str) -> str:
    """Marks and invisibles out, case folded: the text transliteration starts from."""
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(c for c in decomposed
                   if unicodedata.category(c) not in _MARKS and not is_ignorable(c))
    return unicodedata.normalize("NFC", kept).casefold()


# ASCII letters lower-cased, digits kept, every other byte a space: a token is what is left
# between spaces (as ``[a-z0-9]+`` finds them, four times faster on a 5 KB text).
_WORD_BYTES = bytes(c + 32 if 65 <= c <= 90 else c if 48 <= c <= 57 or 97 <= c <= 122 else 32
                    for c in range(256))


def _tokens(ascii_text: str) -> list[str]:
    if "'" in ascii_text or "`" in ascii_text:  # the only apostrophes left in ASCII
        ascii_text = _APOSTROPHE.sub("", ascii_text.lower())
    return ascii_text.encode("ascii").translate(_WORD_BYTES).decode("ascii").split()


def token_runs(text: str) -> list[list[str]]:
    """The text's words as ASCII tokens, once per reading that gives different tokens.

    Look-alike letters are read as Latin (a Cyrillic ``а`` inside ``Hаddad``) and, in a
    second reading, transliterated (``Хаддад`` is ``Khaddad``): a word may be either.
    """
    if text.isascii():
        return [_tokens(text)]
    confusable = _tokens(anyascii(fold(text)))
    transliterated = _tokens(anyascii(_plain(text)))
    return [confusable] if confusable == transliterated else [confusable, transliterated]


@functools.lru_cache(maxsize=1 << 16)
def skeleton(token: str) -> str:
    """The consonants of a token as transliterations agree on them (``mhmd`` for Muhammad,
    Mohammed and ``محمد``): digraphs unified, vowels out, doubled letters once, a final
    ``h`` dropped (``Fatimah``, ``فاطمة``)."""
    for digraph, letter in _DIGRAPHS:
        token = token.replace(digraph, letter)
    out: list[str] = []
    for char in token.translate(_LETTERS):
        if char in _VOWELS or (out and out[-1] == char):
            continue
        out.append(char)
    if len(out) > 1 and out[-1] == "h":
        out.pop()
    return "".join(out)


def _name_keys(tokens: list[str]) -> set[Key]:
    keys: set[Key] = set()
    orders = [tokens, [tokens[-1], *tokens[:-1]]]
    for order in orders:
        keys.add(tuple(EXACT + t for t in order))
        skeletons = [skeleton(t) for t in order if t not in PARTICLES]
        # A one-letter skeleton (``Ali`` is ``l``) would match half the words of a text.
        if all(len(s) > 1 for s in skeletons) and sum(map(len, skeletons)) >= MIN_SKELETON:
            keys.add(tuple(SKELETON + s for s in skeletons))
    keys.add((EXACT + tokens[0][0], EXACT + tokens[-1]))  # A. Haddad
    return keys


def value_keys(value: str, shape: Shape) -> set[Key]:
    """Every key under which ``value`` is registered; empty for a value with no word."""
    keys: set[Key] = set()
    for tokens in token_runs(value):
        if not tokens:
            continue
        keys.add(tuple(EXACT + t for t in tokens))
        match shape:
            case Shape.EXACT:
                pass
            case Shape.NAME:
                if len(tokens) > 1:
                    keys |= _name_keys(tokens)
            case _:
                assert_never(shape)
    return keys
