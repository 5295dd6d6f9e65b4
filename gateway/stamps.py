"""Read the stamps of a message: top text, HTML, Subject, X-Stamp, embedded content."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gateway.message import MessageFacts
from gateway.model import Location, Stamp
from gateway.text import normalise_phrase, normalise_text

_OPENERS = "[({<*_=#~|\"'«“‘>-–—:•·"
_CLOSERS = "])}>*_=#~|\"'»”’-–—:.!,;"
_PUNCT_AFTER = ":-–—,;.!/|()[]{}<>*_=#~\"'»”’"
_PREFIX = re.compile(r"^(stamp|label|classification|classification level|tampon|sello|etiqueta|"
                     r"étiquette|classificação|clasificacion|clasificación)\s*[:\-–—]\s*")
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5,
    "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5,
}
_COUNT_CLAUSE = re.compile(r"^(?:(?:in|en|de|of|por|في)\s+)?(\d{1,3}|[^\W\d_]+)\s+[^\W\d_]+\s*")
_BULLET = re.compile(r"^\s*(?:[-*•·–]|\d{1,2}[.)])\s+(.*\S)\s*$")
_REPLY_PREFIX = re.compile(r"^(?:(?:re|fw|fwd|aw|wg|tr|rv|sv|vs|antw|rif|odp|res|enc|ref)"
                           r"\s*(?:\[\d+\])?\s*[:：]\s*)+")
_SUBJECT_TAG = re.compile(r"[\[(【]\s*([^\[\]()【】]{1,80}?)\s*[\])】]")
MAX_STAMP_LINES = 10


@dataclass(frozen=True, slots=True)
class StampFinding:
    """One stamp read somewhere in a message."""

    stamp: Stamp
    location: Location
    depth: int = 0
    adjustments: tuple[str, ...] = ()
    stated_count: int | None = None


@dataclass(frozen=True, slots=True)
class _Line:
    stamp: Stamp
    trailer: str
    count: int | None


class Vocabulary:
    """Stamp phrases, folded for matching, longest first so the longer phrase wins."""

    def __init__(self, phrases: Mapping[Stamp, Iterable[str]]) -> None:
        pairs: dict[str, Stamp] = {}
        for stamp, words in phrases.items():
            for word in words:
                pairs[normalise_phrase(word)] = stamp
            for key in {stamp.value, stamp.value.replace("_", " "), stamp.value.replace("_", "-")}:
                pairs.setdefault(key, stamp)
        self.phrases = tuple(sorted(pairs.items(), key=lambda kv: -len(kv[0])))

    def parse_line(self, line: str) -> _Line | None:
        """A folded line that is a stamp (optionally decorated, prefixed or trailed)."""
        text = line.strip().lstrip(_OPENERS + " ")
        text = _PREFIX.sub("", text).lstrip(_OPENERS + " ")
        if not text:
            return None
        for phrase, stamp in self.phrases:
            if not text.startswith(phrase):
                continue
            rest = text[len(phrase):]
            if rest and (rest[0].isalnum() or rest[0] in "'’"):
                continue  # "internally", "confidentiality": another word
            parsed = _after_phrase(stamp, rest)
            if parsed is not None:
                return parsed
        return None

    def read_value(self, value: str) -> Stamp | None:
        """A header value such as ``X-Stamp: internal``."""
        parsed = self.parse_line(normalise_text(value).replace("\n", " "))
        return parsed.stamp if parsed else None


def _after_phrase(stamp: Stamp, rest: str) -> _Line | None:
    stripped = rest.strip()
    count: int | None = None
    if stamp is Stamp.NEEDS_ADJUSTMENT and stripped and stripped[0] not in _PUNCT_AFTER:
        match = _COUNT_CLAUSE.match(stripped)
        if match is None:
            return None
        count = _number(match.group(1))
        if count is None:
            return None
        stripped = stripped[match.end():]
    if not stripped.strip(_CLOSERS + " "):
        return _Line(stamp, "", count)
    if stripped[0] not in _PUNCT_AFTER:
        return None  # "Internal audit starts Monday." is a sentence
    return _Line(stamp, stripped.strip(_CLOSERS + " "), count)


def _number(token: str) -> int | None:
    if token.isdigit():
        return int(token)
    return _NUMBER_WORDS.get(token)


def _adjustments(trailer: str, following: list[str]) -> tuple[str, ...]:
    if trailer:
        items = re.split(r"\s*(?:[,;]|\band\b|\bet\b|\by\b)\s*", trailer)
        return tuple(i.strip(" .") for i in items if i.strip(" ."))
    items = []
    for line in following:
        if not line.strip():
            if items:
                break
            continue
        match = _BULLET.match(line)
        if match is None:
            break
        items.append(match.group(1).strip(" ."))
    return tuple(items)


def read_top_text(text: str, vocabulary: Vocabulary, location: Location,
                  depth: int = 0) -> list[StampFinding]:
    """Stamps on the first non-blank lines of a text (consecutive stamp lines all count)."""
    lines = normalise_text(text).split("\n")
    findings: list[StampFinding] = []
    index = 0
    while index < len(lines) and len(findings) < MAX_STAMP_LINES:
        line = lines[index]
        index += 1
        if not line.strip(" >"):
            continue
        parsed = vocabulary.parse_line(line)
        if parsed is None:
            break
        adjustments: tuple[str, ...] = ()
        if parsed.stamp is Stamp.NEEDS_ADJUSTMENT:
            adjustments = _adjustments(parsed.trailer, lines[index:index + 30])
        findings.append(StampFinding(parsed.stamp, location, depth, adjustments, parsed.count))
    return findings


def read_subject(subject: str, vocabulary: Vocabulary, location: Location = Location.SUBJECT,
                 depth: int = 0) -> list[StampFinding]:
    """``[CONFIDENTIAL] Case update``, ``Re: Internal: ...``: tags anywhere, a phrase in front."""
    text = normalise_text(subject).replace("\n", " ")
    text = _REPLY_PREFIX.sub("", text)
    found: list[StampFinding] = []
    for tag in _SUBJECT_TAG.findall(text):
        parsed = vocabulary.parse_line(tag)
        if parsed is not None:
            found.append(_finding(parsed, location, depth))
    parsed = vocabulary.parse_line(text)
    if parsed is not None:
        found.append(_finding(parsed, location, depth))
    return list(dict.fromkeys(found))


def _finding(parsed: _Line, location: Location, depth: int) -> StampFinding:
    adjustments = _adjustments(parsed.trailer, []) if parsed.stamp is Stamp.NEEDS_ADJUSTMENT else ()
    return StampFinding(parsed.stamp, location, depth, adjustments, parsed.count)


@dataclass(frozen=True, slots=True)
class StampReading:
    """Every stamp of a message: its own, and those of embedded content."""

    own: tuple[StampFinding, ...]
    embedded: tuple[StampFinding, ...]
    unreadable: tuple[str, ...]

    @property
    def stamp(self) -> Stamp | None:
        """The message's own stamp: the most restrictive one found."""
        best = strictest_finding(self.own)
        return best.stamp if best else None

    @property
    def where(self) -> tuple[Location, ...]:
        stamp = self.stamp
        return tuple(dict.fromkeys(f.location for f in self.own if f.stamp is stamp))

    @property
    def adjustments(self) -> tuple[str, ...]:
        items: dict[str, None] = {}
        for finding in self.own:
            items.update(dict.fromkeys(finding.adjustments))
        return tuple(items)

    @property
    def stated_count(self) -> int | None:
        counts = [f.stated_count for f in self.own if f.stated_count is not None]
        return max(counts) if counts else None


def strictest_finding(findings: Iterable[StampFinding]) -> StampFinding | None:
    best: StampFinding | None = None
    for finding in findings:
        if best is None or finding.stamp.rank > best.stamp.rank:
            best = finding
    return best


def read_stamps(facts: MessageFacts, vocabulary: Vocabulary) -> StampReading:
    """All stamps of a message; an X-Stamp value we cannot read makes it unreadable."""
    own, unreadable = _own_stamps(facts, vocabulary, 0)
    embedded: list[StampFinding] = []
    _embedded(facts, vocabulary, 1, embedded, unreadable)
    return StampReading(tuple(own), tuple(embedded), tuple(unreadable))


def _own_stamps(facts: MessageFacts, vocabulary: Vocabulary,
                depth: int) -> tuple[list[StampFinding], list[str]]:
    found: list[StampFinding] = []
    unreadable = list(facts.unreadable)
    for part in facts.top_texts:
        found.extend(read_top_text(part.text, vocabulary, part.location, depth))
    found.extend(read_subject(facts.subject, vocabulary, Location.SUBJECT, depth))
    for value in facts.x_stamps:
        stamp = vocabulary.read_value(value)
        if stamp is None:
            unreadable.append("X-Stamp header with a value that is not a known stamp")
        else:
            found.append(StampFinding(stamp, Location.HEADER, depth))
    return found, unreadable


def _embedded(facts: MessageFacts, vocabulary: Vocabulary, depth: int,
              out: list[StampFinding], unreadable: list[str]) -> None:
    for inner in facts.attached:
        own, inner_unreadable = _own_stamps(inner, vocabulary, depth)
        out.extend(StampFinding(f.stamp, Location.ATTACHED, depth, f.adjustments, f.stated_count)
                   for f in own)
        unreadable.extend(inner_unreadable)
        _embedded(inner, vocabulary, depth + 1, out, unreadable)
