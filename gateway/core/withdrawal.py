"""Words after a Cleared phrase that take the clearance back (``Cleared for publication: no``).

Two lists, both from ``[cleared]`` in ``policies/stamps.toml``:

- ``withdrawn_by``: words that take it back whatever follows them (``- not yet``, ``- pending
  review``, ``- until Monday``);
- ``withdrawn_alone``: answers that take it back only standing alone, followed by nothing,
  punctuation or another such word (``: no``, ``- no, pending``, ``no no``). Followed by a
  word they are the start of a note that leaves the clearance standing: ``Cleared for
  publication - no faces, pseudonym used``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gateway.core.text import normalise_phrase

_FIRST_WORD = re.compile(r"[^\W_]+")


class Withdrawal:
    """Whether a Cleared line's trailer takes its clearance back."""

    def __init__(self, words: Iterable[str] = (), alone: Iterable[str] = ()) -> None:
        self.words = _folded(words)
        self.alone = _folded(alone)
        # The first word of each, as a trailer's first word is found ("n/a" starts with "n").
        self._first = frozenset(found.group(0) for w in (*self.words, *self.alone)
                                if (found := _FIRST_WORD.match(w)))

    def takes_back(self, trailer: str) -> bool:
        """Whether a folded trailer starts with a word that takes the clearance back."""
        first = _FIRST_WORD.match(trailer)
        if first is None or first.group(0) not in self._first:
            return False  # the common case: no trailer, or one that starts otherwise
        rest = trailer
        while True:  # each turn takes one answer off the front: linear in the trailer
            if any(_starts(rest, words) for words in self.words):
                return True
            answer = next((words for words in self.alone if _starts(rest, words)), None)
            if answer is None:
                return False
            rest = rest[len(answer):].lstrip()
            if not rest or not rest[0].isalnum():
                return True


def _folded(words: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({normalise_phrase(w) for w in words} - {""}))


def _starts(trailer: str, words: str) -> bool:
    """``trailer`` starts with ``words`` as whole words ("nope", "nope] notes", "no, pending")."""
    return trailer.startswith(words) and not trailer[len(words):len(words) + 1].isalnum()
