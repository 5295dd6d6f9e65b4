"""The stamp vocabulary: is a folded line a stamp, and which one (phrase, trailer, count)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gateway.core import tlp
from gateway.core.adjustments import number
from gateway.core.label_policy import LabelMap
from gateway.core.labels import TLP
from gateway.core.model import Stamp
from gateway.core.near_top import (
    digits_as_letters,
    has_strokes,
    stricter,
    stroke_skeleton,
    ticked,
    unticked,
)
from gateway.core.reshaped import struck, struck_out
from gateway.core.spelling import leading_words, letter_spaced, near, phrase_words
from gateway.core.text import normalise_phrase, normalise_text, without_accents
from gateway.core.withdrawal import Withdrawal

_PREFIXES = sorted({normalise_phrase(p) for p in (
    "stamp", "label", "classification", "classification level", "tampon", "sello", "etiqueta",
    "étiquette", "classificação", "clasificacion", "clasificación", "einstufung",
    "klassifizierung", "classificazione", "гриф", "sınıflandırma", "طبقه بندی", "تصنيف",
    # The names of a marking field: "Sensitivity: Confidential", "Status: Cleared ...".
    "sensitivity", "status", "marking", "protective marking", "security classification",
    "distribution", "handling", "clearance", "sign-off", "statut", "diffusion", "sensibilité",
    "estado", "distribución", "sensibilidad", "verteilung", "vertraulichkeit",
)}, key=len, reverse=True)
_PREFIX = re.compile("^(?:" + "|".join(map(re.escape, _PREFIXES)) + r")\s*[:=\-–—]\s*")
# A count left blank or vague ("in __ ways", "in several ways") is still the stamp.
_UNSTATED = frozenset({"_", "?", "x", "n", "several", "some", "multiple", "many", "various",
                       "plusieurs", "varias", "varios", "algunas", "algunos", "mehreren"})
_COUNT_CLAUSE = re.compile(  # "in 2 ways", "de 2 façons", "x2"
    r"^(?:[x×]\s?(\d{1,3})\b|(?:(?:in|en|de|of|por|في)\s+)?(\d{1,3}|_+|\?+|[^\W\d_]+)"
    r"\s+[^\W\d_]+)\s*")
# "Internal and Confidential": two stamps on one line, the stricter wins.
# A slash against the next word joins two words ("Internal/external" is no stamp).
_CONJUNCTION = re.compile(r"^(?:and|&|\+|et|y|und|e|or|ou|o|oder|/(?=[^\W\d_]))\s*(?=\S)")
# A trailer is read as another stamp only while it is short ("Internal / Confidential").
MAX_TRAILER_STAMP = 80
_MAX_NESTED_PARSE = 3


_FIRST_WORD = re.compile(r"[^\W_]+")
_PREFIX_HEADS = frozenset(p.split()[0].split("-")[0] for p in _PREFIXES)
_OPENERS_KEPT = 4096


@dataclass(frozen=True, slots=True)
class StampLine:
    """A line read as a stamp: which stamp, the trailer after it, a stated count."""

    stamp: Stamp
    trailer: str
    count: int | None
    # The partner's label the line carries (``TLP:RED``), when it is one.
    label: str = ""


def _variants(phrase: str) -> set[str]:
    """The ways people join the words of a phrase: ``internal-only``, ``Private & ...``."""
    forms = {phrase, phrase.replace(" ", "-")}
    for form in list(forms):
        forms.add(form.replace(" & ", " and "))
        forms.add(form.replace(" and ", " & "))
    return forms


class Vocabulary:
    """Stamp phrases, folded for matching, longest first so the longer phrase wins."""

    def __init__(self, phrases: Mapping[Stamp, Iterable[str]],
                 labels: LabelMap | None = None, withdrawn_by: Iterable[str] = (),
                 *, withdrawn_alone: Iterable[str] = (), strokes: bool = True) -> None:
        # Partners' sensitivity labels, as labels.toml maps them to stamps.
        self.labels = labels if labels is not None else LabelMap()
        # Words that, first in its trailer, take a Cleared line's clearance back.
        self.withdrawal = Withdrawal(withdrawn_by, withdrawn_alone)
        self._tlp = self.labels.reads(TLP)
        pairs: dict[str, Stamp] = {}
        for stamp, words in phrases.items():
            for word in words:
                pairs[normalise_phrase(word)] = stamp
            for key in {stamp.value, stamp.value.replace("_", " "), stamp.value.replace("_", "-")}:
                pairs.setdefault(key, stamp)
        written = dict(pairs)
        for phrase, stamp in written.items():
            for variant in _variants(phrase):
                pairs.setdefault(variant, stamp)
        self.phrases = tuple(sorted(pairs.items(), key=lambda kv: -len(kv[0])))
        self._by_initial: dict[str, list[tuple[str, Stamp]]] = {}
        for phrase, stamp in self.phrases:
            self._by_initial.setdefault(phrase[0], []).append((phrase, stamp))
        # Phrases without accents also match a line whose accents are only decoration.
        self._bare = {p for p, _ in self.phrases if without_accents(p) == p}
        self._compact: dict[str, Stamp] = {}
        self._words: dict[str, list[tuple[tuple[str, ...], Stamp]]] = {}
        for phrase, stamp in sorted(written.items(), key=lambda kv: -kv[1].rank):
            self._compact.setdefault("".join(c for c in phrase if c.isalnum()), stamp)
            words = phrase_words(phrase)
            if words:
                self._words.setdefault(words[0], []).append((words, stamp))
        self._longest = max((len(w) for group in self._words.values() for w, _ in group),
                            default=1)
        # Look-ups by length: a typo changes the length of a word by one at most.
        self._openings = _by_length(self._words)
        self._compacts = _by_length(self._compact)
        self._openers: dict[str, bool] = {}  # first words seen: may they open a phrase
        # The same phrases with every vertical stroke as one letter (core/near_top.py).
        self._strokes = Vocabulary({stamp: [stroke_skeleton(p) for p, s in written.items()
                                            if s is stamp] for stamp in Stamp},
                                   strokes=False) if strokes else None

    def parse_line(self, line: str) -> StampLine | None:
        """A folded line that is a stamp (optionally decorated, prefixed or trailed).

        A Cleared line whose trailer takes it back (``Cleared for publication: no``, a
        cross after it, struck through) is not a stamp: a reader does not see it cleared."""
        if (letters := struck(line)) is not None:  # "C̶l̶e̶a̶r̶e̶d̶", "~~Cleared ...~~"
            return struck_out(self, letters)
        parsed = self._parse(line, 0)
        if parsed is not None and parsed.stamp is Stamp.CLEARED and self._withdrawn(
                line, parsed.trailer):
            parsed = None
        if parsed is None and (rest := ticked(line)) is not None:  # "[x] Internal"
            parsed = stricter(None, self._parse(rest, 0))
        if (self._strokes is not None and has_strokes(line) and (
                parsed is None or (parsed.stamp is Stamp.CLEARED and parsed.trailer))):
            # "lnternal", "Cleared for publication / lnternal": for a stricter stamp only
            skeleton = stroke_skeleton(digits_as_letters(line))
            if self._strokes.may_open(skeleton):
                parsed = stricter(parsed, self._strokes._parse(skeleton, 0))
        return parsed

    def may_open(self, text: str) -> bool:
        """Whether the first word of ``text`` may open a phrase (one typo allowed; a letter
        or two may be letter-spacing): a sentence is not parsed word by word again."""
        first = _FIRST_WORD.search(text)  # the first word after any decoration
        if first is not None and first.group(0) in _PREFIX_HEADS:  # a field's name first
            first = _FIRST_WORD.match(_undecorated(_PREFIX.sub("", _undecorated(text))))
        if first is None:
            return False
        word = first.group(0)
        known = self._openers.get(word)
        if known is None:
            if len(self._openers) >= _OPENERS_KEPT:
                self._openers.clear()  # bounded: first words repeat from message to message
            known = self._openers[word] = len(word) <= 2 or any(
                near(word, opening) for opening in _sized(self._openings, len(word)))
        return known

    def withdraws(self, line: str) -> bool:
        """Whether ``line`` is a Cleared line its trailer takes back (``Cleared: no``): a line
        whose first word opens no phrase is not parsed again. So is a Cleared struck out."""
        if (letters := struck(line)) is not None:
            parsed = self.parse_line(" ".join(letters.split()))
            return parsed is not None and parsed.stamp is Stamp.CLEARED
        if not self.may_open(line):
            return False
        asks = line[-1:] == "?"  # "Cleared for publication?" asks; it does not clear
        parsed = self._parse(line[:-1] if asks else line, 0)
        return (parsed is not None and parsed.stamp is Stamp.CLEARED
                and ((asks and not parsed.trailer) or self._withdrawn(line, parsed.trailer)))

    def _withdrawn(self, line: str, trailer: str) -> bool:
        return (not _CROSSES.isdisjoint(line) or unticked(line)
                or self.withdrawal.takes_back(trailer))

    def _parse(self, line: str, nesting: int) -> StampLine | None:
        text = _undecorated(_PREFIX.sub("", _undecorated(line)))
        if not text:
            return None
        if self._tlp and text.startswith("tlp"):
            marked = self._marker(text, nesting)
            if marked is not None:
                return marked
        parsed = self._exact(text, nesting, bare_only=False)
        if parsed is None and not text.isascii():
            bare = without_accents(text)
            if bare != text:
                text = bare
                parsed = self._exact(text, nesting, bare_only=True)
        if parsed is None:
            parsed = self._spaced(text, nesting)
        if parsed is None:
            parsed = self._misspelt(text, nesting)
        if parsed is None and nesting == 0:
            digits = digits_as_letters(text)
            if digits != text:  # "C0NFIDENTIAL": a digit that reads as a letter in a word
                parsed = self._parse(digits, nesting + 1)
        return parsed

    def _marker(self, text: str, nesting: int) -> StampLine | None:
        """``TLP:AMBER``, ``[TLP:RED] do not forward``: a partner's marker, as the policy maps
        it (a marker mapped to ``none`` is no stamp)."""
        found = tlp.marker_at_start(text)
        if found is None:
            return None
        label, rest = found
        stamp = self.labels.stamp_for(label)
        if stamp is None:
            return None
        return self._trailer_stamp(StampLine(stamp, _trimmed(rest.strip()), None, label.shown),
                                   nesting)

    def _exact(self, text: str, nesting: int, *, bare_only: bool) -> StampLine | None:
        for phrase, stamp in self._by_initial.get(text[0], ()):
            if not text.startswith(phrase) or (bare_only and phrase not in self._bare):
                continue
            rest = text[len(phrase):]
            if rest and (rest[0].isalnum() or rest[0] in "'’"):
                continue  # "internally", "confidentiality": another word
            parsed = self._finish(stamp, rest, nesting)
            if parsed is not None:
                return parsed
        return None

    def _spaced(self, text: str, nesting: int) -> StampLine | None:
        """``C O N F I D E N T I A L``, ``S-T-R-I-C-T-L-Y C-O-N-...``, with one typo at most."""
        found = letter_spaced(text)
        if found is None:
            return None
        letters, end = found
        stamp = self._compact.get(letters)
        if stamp is None:
            stamp = next((self._compact[c] for c in _sized(self._compacts, len(letters))
                          if near(letters, c)), None)
        return None if stamp is None else self._finish(stamp, text[end:], nesting)

    def _misspelt(self, text: str, nesting: int) -> StampLine | None:
        """``Confidentail``, ``Strictly confidental``: one typo in each long word.

        Of the phrases that fit, the strictest stamp wins (a typo must not lower a stamp).
        """
        words = leading_words(text, self._longest)
        if not words:
            return None
        first = words[0].text
        best: tuple[Stamp, int] | None = None
        for opening in _sized(self._openings, len(first)):
            if not near(first, opening):
                continue
            for phrase, stamp in self._words[opening]:
                if len(phrase) > len(words) or not all(
                        near(w.text, p) for w, p in zip(words, phrase, strict=False)):
                    continue
                end = words[len(phrase) - 1].end
                better = best is None or (stamp.rank, end) > (best[0].rank, best[1])
                if better and self._finish(stamp, text[end:], nesting) is not None:
                    best = (stamp, end)
        return None if best is None else self._finish(best[0], text[best[1]:], nesting)

    def _finish(self, stamp: Stamp, rest: str, nesting: int) -> StampLine | None:
        parsed = _after_phrase(stamp, rest)
        if parsed is None:
            parsed = self._conjoined(stamp, rest, nesting)
        return None if parsed is None else self._trailer_stamp(parsed, nesting)

    def _conjoined(self, stamp: Stamp, rest: str, nesting: int) -> StampLine | None:
        """``Internal and Confidential``: the stricter of the two."""
        rest = rest.strip()
        match = _CONJUNCTION.match(rest)
        if match is None or nesting >= _MAX_NESTED_PARSE or len(rest) > MAX_TRAILER_STAMP:
            return None
        other = self._parse(rest[match.end():], nesting + 1)
        if other is None:
            return None
        return other if other.stamp.rank >= stamp.rank else StampLine(stamp, "", None)

    def _trailer_stamp(self, parsed: StampLine, nesting: int) -> StampLine:
        """``Internal / Confidential``: a short trailer that is itself a stricter stamp wins."""
        trailer = parsed.trailer
        if not trailer or nesting >= _MAX_NESTED_PARSE or len(trailer) > MAX_TRAILER_STAMP:
            return parsed
        other = self._parse(trailer, nesting + 1)
        if other is not None and other.stamp.rank > parsed.stamp.rank:
            return other
        return parsed

    def read_value(self, value: str) -> Stamp | None:
        """A header value such as ``X-Stamp: internal``."""
        parsed = self.parse_line(normalise_text(value).replace("\n", " "))
        return parsed.stamp if parsed else None


def _by_length(keys: Iterable[str]) -> dict[int, tuple[str, ...]]:
    sized: dict[int, list[str]] = {}
    for key in keys:
        sized.setdefault(len(key), []).append(key)
    return {size: tuple(group) for size, group in sized.items()}


def _sized(table: Mapping[int, tuple[str, ...]], size: int) -> Iterable[str]:
    for near_size in (size, size - 1, size + 1):
        yield from table.get(near_size, ())


def _undecorated(text: str) -> str:
    """Without the brackets, asterisks, dashes, emoji and spaces in front."""
    start = 0
    while start < len(text) and not text[start].isalnum():
        start += 1
    return text[start:]


# Marks that cross a line out, whatever the language (ballot and multiplication X's, cross
# marks, saltires, prohibition signs, a thumb down; ⨯ folds to "x" before), and unticked boxes.
_CROSSES = frozenset("✕✖✗✘❌❎☒☓🗙🗴🗵🗶🗷🚫⛔🛇👎" "☐□▢")


def _trimmed(text: str) -> str:
    """Without decoration at either end (``-- do not forward --`` gives the words)."""
    end = len(text)
    while end and not text[end - 1].isalnum():
        end -= 1
    return _undecorated(text[:end])


def _after_phrase(stamp: Stamp, rest: str) -> StampLine | None:
    """What follows a stamp phrase: nothing, decoration, or punctuation and a trailer.

    A word straight after the phrase makes it a sentence ("Internal audit starts Monday."),
    and so does a question mark ("Cleared for publication?" asks, it does not stamp).
    """
    stripped = rest.strip()
    count: int | None = None
    if stamp is Stamp.NEEDS_ADJUSTMENT and stripped:
        match = _COUNT_CLAUSE.match(stripped)
        if match is not None:
            token = match.group(1) or match.group(2)
            count = number(token)
            if count is None and token.strip("_?") and token not in _UNSTATED:
                return None
            stripped = stripped[match.end():].strip()
    if stripped and (stripped[0].isalnum() or stripped[0] in "?¿" or (
            stripped[0] == "/" and stripped[1:2].isalpha())):
        return None
    return StampLine(stamp, _trimmed(stripped), count)
