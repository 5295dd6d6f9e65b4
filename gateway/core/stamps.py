"""Read the stamps of a message: top text, HTML, Subject, X-Stamp, embedded content."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from gateway.core.markers import (
    HEADER_LOOKAHEAD,
    HeaderKind,
    attribution_length,
    header_line,
    is_forward_marker,
    may_be_attribution,
    opens_header_block,
    quote_level,
    starts_header_block,
)
from gateway.core.message import MAX_DEPTH, MessageFacts
from gateway.core.model import Location, Stamp
from gateway.core.text import normalise_phrase, normalise_text, normalised_lines

_PREFIX = re.compile(r"^(stamp|label|classification|classification level|tampon|sello|etiqueta|"
                     r"étiquette|classificação|clasificacion|clasificación)\s*[:\-–—]\s*")
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5,
    "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5,
}
# A count left blank or vague ("in __ ways", "in several ways") is still the stamp.
_UNSTATED = frozenset({"_", "?", "x", "n", "several", "some", "multiple", "many", "various",
                       "plusieurs", "varias", "varios", "algunas", "algunos", "mehreren"})
_COUNT_CLAUSE = re.compile(
    r"^(?:(?:in|en|de|of|por|في)\s+)?(\d{1,3}|_+|\?+|[^\W\d_]+)\s+[^\W\d_]+\s*")
# "Internal and Confidential": two stamps on one line, the stricter wins.
_CONJUNCTION = re.compile(r"^(?:and|&|\+|et|y|und|e|or|ou|o|oder)\s*(?=\S)")
# A trailer is read as another stamp only while it is short ("Internal / Confidential").
MAX_TRAILER_STAMP = 80
_MAX_NESTED_PARSE = 3
# "Case 12 - Confidential": a stamp after a separator in the Subject.
_SUBJECT_SEPARATOR = re.compile(r"\s+[-–—|/]+\s+|:\s+")
MAX_SUBJECT_SEGMENTS = 10
_BULLET = re.compile(r"^\s*(?:[-*•·–]|\d{1,2}[.)])\s+(.*\S)\s*$")
_REPLY_PREFIX = re.compile(r"^(?:(?:re|fw|fwd|aw|wg|tr|rv|sv|vs|antw|rif|odp|res|enc|ref)"
                           r"\s*(?:\[\d+\])?\s*[:：]\s*)+")
_SUBJECT_TAG = re.compile(r"[\[(【]\s*([^\[\]()【】]{1,80}?)\s*[\])】]")
MAX_STAMP_LINES = 10
# Lines after "Needs adjustment in 3 ways" searched for the listed adjustments.
MAX_ADJUSTMENT_LINES = 30
# Header lines (with wrapped values) of one inline forward before its body must begin.
MAX_HEADER_LINES = 40


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
        return self._parse(line, 0)

    def _parse(self, line: str, nesting: int) -> _Line | None:
        text = _PREFIX.sub("", _undecorated(line))
        text = _undecorated(text)
        if not text:
            return None
        for phrase, stamp in self.phrases:
            if not text.startswith(phrase):
                continue
            rest = text[len(phrase):]
            if rest and (rest[0].isalnum() or rest[0] in "'’"):
                continue  # "internally", "confidentiality": another word
            parsed = _after_phrase(stamp, rest)
            if parsed is None:
                parsed = self._conjoined(stamp, rest, nesting)
            if parsed is not None:
                return self._trailer_stamp(parsed, nesting)
        return None

    def _conjoined(self, stamp: Stamp, rest: str, nesting: int) -> _Line | None:
        """``Internal and Confidential``: the stricter of the two."""
        rest = rest.strip()
        match = _CONJUNCTION.match(rest)
        if match is None or nesting >= _MAX_NESTED_PARSE or len(rest) > MAX_TRAILER_STAMP:
            return None
        other = self._parse(rest[match.end():], nesting + 1)
        if other is None:
            return None
        return other if other.stamp.rank >= stamp.rank else _Line(stamp, "", None)

    def _trailer_stamp(self, parsed: _Line, nesting: int) -> _Line:
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


def _undecorated(text: str) -> str:
    """Without the brackets, asterisks, dashes, emoji and spaces in front."""
    start = 0
    while start < len(text) and not text[start].isalnum():
        start += 1
    return text[start:]


def _trimmed(text: str) -> str:
    """Without decoration at either end (``-- do not forward --`` gives the words)."""
    end = len(text)
    while end and not text[end - 1].isalnum():
        end -= 1
    return _undecorated(text[:end])


def _after_phrase(stamp: Stamp, rest: str) -> _Line | None:
    """What follows a stamp phrase: nothing, decoration, or punctuation and a trailer.

    A word straight after the phrase makes it a sentence ("Internal audit starts Monday."),
    and so does a question mark ("Cleared for publication?" asks, it does not stamp).
    """
    stripped = rest.strip()
    count: int | None = None
    if stamp is Stamp.NEEDS_ADJUSTMENT and stripped:
        match = _COUNT_CLAUSE.match(stripped)
        if match is not None:
            token = match.group(1)
            count = _number(token)
            if count is None and token.strip("_?") and token not in _UNSTATED:
                return None
            stripped = stripped[match.end():].strip()
    if stripped and (stripped[0].isalnum() or stripped[0] in "?¿"):
        return None
    return _Line(stamp, _trimmed(stripped), count)


def _number(token: str) -> int | None:
    if token.isdigit():
        return int(token)
    return _NUMBER_WORDS.get(token)


def _adjustments(trailer: str, following: Sequence[str]) -> tuple[str, ...]:
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
    scan = _Scan(vocabulary, location, depth)
    scan.run(normalised_lines(text))
    return scan.own


def read_subject(subject: str, vocabulary: Vocabulary, location: Location = Location.SUBJECT,
                 depth: int = 0) -> list[StampFinding]:
    """``[CONFIDENTIAL] Case update``, ``Re: Internal: ...``: tags anywhere, a phrase in front.

    A stamp after other tags (``[EXT] Internal: ...``) or after a separator
    (``Case 12 - Confidential``) counts too.
    """
    text = normalise_text(subject).replace("\n", " ")
    text = _REPLY_PREFIX.sub("", text)
    found: list[StampFinding] = []
    for tag in _SUBJECT_TAG.findall(text):
        parsed = vocabulary.parse_line(tag)
        if parsed is not None:
            found.append(_finding(parsed, location, depth))
    # "[EXT] Internal: x", "[staff-list] Re: Confidential - x": the phrase after other tags.
    untagged = _REPLY_PREFIX.sub("", _SUBJECT_TAG.sub(" ", text).strip())
    segments = _SUBJECT_SEPARATOR.split(untagged, maxsplit=MAX_SUBJECT_SEGMENTS)
    for segment in segments:
        parsed = vocabulary.parse_line(segment)
        if parsed is not None:
            found.append(_finding(parsed, location, depth))
    whole = vocabulary.parse_line(text)
    if whole is not None:
        found.append(_finding(whole, location, depth))
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
    own: list[StampFinding] = []
    embedded: list[StampFinding] = []
    unreadable: list[str] = []
    _read_message(facts, vocabulary, 0, own, embedded, unreadable)
    return StampReading(tuple(dict.fromkeys(own)), tuple(dict.fromkeys(embedded)),
                        tuple(dict.fromkeys(unreadable)))


def _read_message(facts: MessageFacts, vocabulary: Vocabulary, depth: int,
                  own: list[StampFinding], embedded: list[StampFinding],
                  unreadable: list[str]) -> None:
    """One message: its top texts, Subject and X-Stamp; then the messages attached to it.

    An attached message (``depth`` > 0) has all of its stamps filed as embedded.
    """
    top_location = Location.ATTACHED if depth else None
    mine = own if depth == 0 else embedded
    unreadable.extend(facts.unreadable)
    for part in facts.top_texts:
        scan = _Scan(vocabulary, top_location or part.location, depth)
        scan.run(normalised_lines(part.text))
        mine.extend(scan.own)
        embedded.extend(scan.embedded)
    mine.extend(read_subject(facts.subject, vocabulary, top_location or Location.SUBJECT, depth))
    for value in facts.x_stamps:
        stamp = vocabulary.read_value(value)
        if stamp is None:
            unreadable.append("X-Stamp header with a value that is not a known stamp")
        else:
            mine.append(StampFinding(stamp, top_location or Location.HEADER, depth))
    for inner in facts.attached:
        _read_message(inner, vocabulary, min(depth + 1, MAX_DEPTH), own, embedded, unreadable)


@dataclass(slots=True)
class _Top:
    """A block whose first non-blank lines may carry its stamp."""

    depth: int
    location: Location
    own: bool = False
    read: int = 0
    # After an attribution line: unless quote markers follow, the lines below are quoted.
    opens: bool = False


@dataclass(slots=True)
class _Headers:
    """The header block of an inline forward (``From:``, ``Subject:``, ...)."""

    depth: int
    seen: bool = False
    left: int = MAX_HEADER_LINES


@dataclass(slots=True)
class _Scan:
    """One pass over the folded lines of a text, finding its own and embedded stamps.

    Quote markers (``>``) open a block one level deeper; a forward marker or a reply header
    opens a forwarded message; an attribution (``On ... wrote:``) opens a quoted one. Each
    block's first non-blank line is read as its top. Every line is looked at once, so the
    work is linear in the text however deep the nesting; depths beyond ``MAX_DEPTH`` are
    reported as ``MAX_DEPTH`` (deep blocks are still read: the confidential original of a
    long thread sits at the bottom).
    """

    vocabulary: Vocabulary
    location: Location
    depth: int
    own: list[StampFinding] = field(default_factory=list)
    embedded: list[StampFinding] = field(default_factory=list)

    def run(self, lines: Sequence[str]) -> None:
        top: _Top | None = _Top(self.depth, self.location, own=True)
        headers: _Headers | None = None
        opened: list[int] = []  # quote level of each open forward or attribution
        previous = 0  # quote level of the last line that was not empty
        index = 0
        while index < len(lines):
            line = lines[index]
            index += 1
            # An empty line stays at the level of the lines around it.
            level, content = quote_level(line) if line else (previous, "")
            while opened and opened[-1] > level:
                opened.pop()
            depth = self.depth + level + len(opened)
            if level != previous:
                # A deeper block starts with its top; back in an outer block, its top is past.
                top = _Top(depth, Location.QUOTED) if level > previous else None
                headers = None
                previous = level
            if headers is not None:
                if self._header(headers, content):
                    continue
                top = _Top(headers.depth, Location.FORWARDED)
                headers = None
            if not content:
                continue
            if top is not None:
                if top.opens:
                    opened.append(level)
                    top.opens = False
                parsed = self.vocabulary.parse_line(content)
                if parsed is not None:
                    self._add(parsed, top, lines, index, level)
                    top.read += 1
                    if top.read >= MAX_STAMP_LINES:
                        top = None
                    continue
                top = None
            if is_forward_marker(content):
                opened.append(level)
                headers = _Headers(depth + 1)
                continue
            if opens_header_block(content) and starts_header_block(
                    [content, *_following(lines, index, level, HEADER_LOOKAHEAD)]):
                opened.append(level)
                headers = _Headers(depth + 1)
                self._header(headers, content)
                continue
            if may_be_attribution(content):
                consumed = attribution_length([content, *_following(lines, index, level, 2)])
                if consumed:
                    index += consumed - 1
                    top = _Top(depth + 1, Location.QUOTED, opens=True)

    def _header(self, headers: _Headers, content: str) -> bool:
        """Whether ``content`` still belongs to the header block (read its Subject)."""
        if not content:
            return not headers.seen  # blank lines before the block; one after ends it
        found = header_line(content)
        if headers.left <= 0:
            return False
        headers.left -= 1
        if found is not None:
            headers.seen = True
            if found[0] is HeaderKind.SUBJECT:
                self.embedded.extend(read_subject(found[1], self.vocabulary, Location.FORWARDED,
                                                  min(headers.depth, MAX_DEPTH)))
            return True
        # A wrapped header value, unless it is the stamp of the forwarded message.
        return headers.seen and self.vocabulary.parse_line(content) is None

    def _add(self, parsed: _Line, top: _Top, lines: Sequence[str], index: int,
             level: int) -> None:
        """File a stamp line of ``top``; "Needs adjustment" takes its list from the next lines."""
        adjustments: tuple[str, ...] = ()
        if parsed.stamp is Stamp.NEEDS_ADJUSTMENT:
            following = [] if parsed.trailer else _following(lines, index, level,
                                                               MAX_ADJUSTMENT_LINES)
            adjustments = _adjustments(parsed.trailer, following)
        finding = StampFinding(parsed.stamp, top.location, min(top.depth, MAX_DEPTH),
                               adjustments, parsed.count)
        (self.own if top.own else self.embedded).append(finding)


def _following(lines: Sequence[str], start: int, level: int, count: int) -> list[str]:
    """Up to ``count`` lines from ``start`` with their quote markers removed, while at ``level``.

    Empty lines are kept (as empty); a line at another level ends the run.
    """
    out: list[str] = []
    for line in lines[start:start + count]:
        if not line:
            out.append("")
            continue
        line_level, content = quote_level(line)
        if line_level != level:
            break
        out.append(content)
    return out
