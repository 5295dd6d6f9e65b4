"""Checks of ``policies/stamps.toml`` across its tables: one stamp per phrase, and the words
that take a clearance back only where there is one to take back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from gateway.core.model import Stamp
from gateway.core.policy import STAMPS_FILE, StampVocabulary
from gateway.core.text import normalise_phrase


class Add(Protocol):
    def __call__(self, relative: str, key: Sequence[str | int], value: object, message: str,
                 hint: str = "", later: bool = False) -> None: ...


def check_vocabulary(stamps: Mapping[Stamp, StampVocabulary], add: Add) -> None:
    """A phrase may name one stamp only; each stamp's own name is reserved for it;
    ``withdrawn_by`` and ``withdrawn_alone`` belong to ``[cleared]``."""
    for stamp, vocabulary in stamps.items():
        for key, words in (("withdrawn_by", vocabulary.withdrawn_by),
                           ("withdrawn_alone", vocabulary.withdrawn_alone)):
            if words and stamp is not Stamp.CLEARED:
                add(STAMPS_FILE, (stamp.value, key), list(words), "is for [cleared] only",
                    hint="a stricter stamp stays what it is whatever follows it; move the "
                         "words to [cleared]")
    owner: dict[str, tuple[Stamp, str]] = {}
    for stamp in Stamp:
        for name in (stamp.value, stamp.value.replace("_", " "), stamp.value.replace("_", "-")):
            owner[name] = (stamp, f"the name of the stamp {stamp.value}")
    for stamp, vocabulary in stamps.items():
        for phrase in vocabulary.phrases:
            norm = normalise_phrase(phrase)
            other = owner.get(norm)
            if other is not None and other[0] is not stamp:
                add(STAMPS_FILE, (stamp.value, "phrases"), phrase, f"collides with {other[1]}",
                    hint="a phrase may name only one stamp (matching ignores case, "
                         "accents-as-look-alikes and Arabic marks); remove it from one",
                    later=True)
            else:
                owner.setdefault(norm, (stamp, f"the phrase {phrase!r} of {stamp.value}"))
