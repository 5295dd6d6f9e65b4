"""One pass over a text's folded lines: its top stamps, and those of quoted or forwarded parts."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.core.adjustments import listed_adjustments
from gateway.core.label_reading import subject_labels
from gateway.core.markers import (
    HEADER_LOOKAHEAD,
    MAX_ATTRIBUTION_LINES,
    HeaderKind,
    attribution_length,
    header_line,
    is_forward_marker,
    may_be_attribution,
    opens_header_block,
    ordinary,
    quote_level,
    starts_header_block,
)
from gateway.core.message import MAX_DEPTH
from gateway.core.model import Location, Stamp
from gateway.core.near_top import MAX_CAPPED_LINES, past_cap, stricter, stricter_piece
from gateway.core.reshaped import capitals, stricter_reshaped
from gateway.core.text import normalise_text, normalised_lines
from gateway.core.vocabulary import StampLine, Vocabulary

# "Case 12 - Confidential": a stamp after a separator in the Subject.
_SUBJECT_SEPARATOR = re.compile(r"\s+[-–—|/]+\s+|:\s+")
MAX_SUBJECT_SEGMENTS = 10
# Any run of characters that are neither letters, digits nor spaces, with the spaces around.
_ANY_SEPARATOR = re.compile(r"\s*[^\w\s]+\s*|\s*_+\s*")
_WRAPPED = re.compile(r"[«「『{<“\"*‹〈《]\s*([^«»「」『』{}<>“”\"*‹›〈〉《》]{1,80}?)\s*"
                      r"[»」』}>”\"*›〉》]")
_IN_WORD = re.compile(r"(?<=[^\W_])[-'’.](?=[^\W_])")
_HASHTAG = re.compile(r"#[^\W_][\w-]{0,40}")
_REPLY_PREFIX = re.compile(r"^(?:(?:re|fw|fwd|aw|wg|tr|rv|sv|vs|antw|rif|odp|res|enc|ref)"
                           r"\s*(?:\[\d+\])?\s*[:：]\s*)+")
_SUBJECT_TAG = re.compile(r"[\[(【]\s*([^\[\]()【】]{1,80}?)\s*[\])】]")
MAX_STAMP_LINES = 10
# Lines after "Needs adjustment in 3 ways" searched for the listed adjustments.
MAX_ADJUSTMENT_LINES = 30
# The beginning of a text folded first when only its top is read (characters), and the lines
# past the top's end that the walk may have looked at (adjustments, headers, attributions).
TOP_CHUNK = 8192
_LOOKAHEAD = MAX_ADJUSTMENT_LINES + HEADER_LOOKAHEAD + MAX_ATTRIBUTION_LINES + 2
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
    # What carried it, when a location alone does not say: a file, a label.
    source: str = ""


def read_top_text(text: str, vocabulary: Vocabulary, location: Location,
                  depth: int = 0) -> list[StampFinding]:
    """Stamps on the first non-blank lines of a text (consecutive stamp lines all count).

    The walk ends with the top: a document's forty pages are not searched for the
    forwards and quotes that only ``scan_text`` reports. Nor are they folded into lines:
    the text's beginning is, up to a line break, and a longer one while the top is open or
    closes too near its end for the lines the walk looks ahead at.
    """
    size = TOP_CHUNK
    while True:
        whole = size >= len(text)
        cut = len(text) if whole else text.rfind("\n", 0, size) + 1
        if cut > 0 or whole:
            lines = normalised_lines(text[:cut])
            scan = _Scan(vocabulary, location, depth)
            stopped = scan.run(lines, top_only=True)
            if whole or (stopped is not None and stopped + _LOOKAHEAD < len(lines)):
                return scan.own
        size *= 4  # the top goes on, or no line break yet: a longer beginning


def scan_text(text: str, vocabulary: Vocabulary, location: Location,
              depth: int = 0) -> tuple[list[StampFinding], list[StampFinding]]:
    """The stamps of a text's own top, and those of its quoted and forwarded parts."""
    scan = _Scan(vocabulary, location, depth)
    scan.run(normalised_lines(text))
    return scan.own, scan.embedded


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
        parsed = (vocabulary.parse_line(tag) or stricter_piece(vocabulary, tag)
                  or stricter_reshaped(vocabulary, tag, ""))
        if parsed is not None:
            found.append(_finding(parsed, location, depth))
    # "[EXT] Internal: x", "[staff-list] Re: Confidential - x": the phrase after other tags.
    untagged = _REPLY_PREFIX.sub("", _SUBJECT_TAG.sub(" ", text).strip())
    segments = _SUBJECT_SEPARATOR.split(untagged, maxsplit=MAX_SUBJECT_SEGMENTS)
    read = {"", text, *segments}  # read below, each with every reading
    # "Cleared for publication: no, pending": a segment alone does not undo the withdrawal.
    for segment in segments:
        parsed = vocabulary.parse_line(segment)
        if parsed is not None and not (parsed.stamp is Stamp.CLEARED and (
                vocabulary.withdraws(text) or vocabulary.withdraws(untagged))):
            found.append(_finding(parsed, location, depth))
    whole = vocabulary.parse_line(text)
    if whole is not None:
        found.append(_finding(whole, location, depth))
    # "Case 12, Confidential", "🔒 Confidential", "«Internal»": any punctuation or symbol
    # sets a stricter stamp apart at either end or wrapped (not one in a list, "free,
    # confidential, 24/7"; nor a Cleared: that takes a separator above).
    joined = _IN_WORD.sub("", text)  # "Internal-audit" stays one word
    pieces = [p for p in _ANY_SEPARATOR.split(joined, maxsplit=MAX_SUBJECT_SEGMENTS) if p]
    ends = [pieces[0], pieces[-1]] if len(pieces) > 1 else []
    for segment in dict.fromkeys([*ends, *_WRAPPED.findall(joined)]):
        parsed = vocabulary.parse_line(segment) if segment not in read else None
        if parsed is not None and parsed.stamp is not Stamp.CLEARED:
            found.append(_finding(parsed, location, depth))
    # "CONFIDENTIAL Case update": capitals set a stamp apart (core/reshaped.py).
    for run in capitals(subject):
        parsed = stricter(None, vocabulary.parse_line(normalise_text(run).replace("\n", " ")))
        if parsed is not None:
            found.append(_finding(parsed, location, depth))
    # "CONFI🔒DENTIAL: case 12", "1. Confidential - case 12", "#confidential": reshaped
    # (core/reshaped.py) and hashtags, for a stricter stamp.
    reshaped = [stricter_reshaped(vocabulary, untagged, ""),
                *(stricter(None, vocabulary.parse_line(tag[1:]))
                  for tag in _HASHTAG.findall(untagged))]
    found.extend(_finding(parsed, location, depth) for parsed in reshaped if parsed is not None)
    # "Weekly report (TLP:AMBER)", "[SEC=PROTECTED] Briefing": partners' labels anywhere.
    found.extend(StampFinding(stamp, location, depth, source=f"label {label.shown}")
                 for label, stamp in subject_labels(text, vocabulary.labels))
    return list(dict.fromkeys(found))


def _finding(parsed: StampLine, location: Location, depth: int) -> StampFinding:
    adjustments: tuple[str, ...] = ()
    if parsed.stamp is Stamp.NEEDS_ADJUSTMENT:
        adjustments = listed_adjustments(parsed.trailer, [])
    return StampFinding(parsed.stamp, location, depth, adjustments, parsed.count,
                        _source(parsed))


def _source(parsed: StampLine) -> str:
    """What carried a stamp line: a partner's label, or (empty) our own stamp."""
    return f"label {parsed.label}" if parsed.label else ""


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

    def run(self, lines: Sequence[str], *, top_only: bool = False) -> int | None:
        """Walk ``lines``; with ``top_only``, stop once the text's own top is past (its
        findings are then complete: no later line can add to ``own``), and say at which
        line. None: the walk reached the last line."""
        own = _Top(self.depth, self.location, own=True)
        top: _Top | None = own
        headers: _Headers | None = None
        opened: list[int] = []  # quote level of each open forward or attribution
        previous = 0  # quote level of the last line that was not empty
        index = 0
        while index < len(lines):
            if top_only and top is not own:
                return index
            line = lines[index]
            index += 1
            # An empty line stays at the level of the lines around it.
            if not line:
                level, content = previous, ""
            elif line[0] == ">":
                level, content = quote_level(line)
                if not _worded(content):  # an empty quote bar: no text, like a blank line
                    level, content = previous, ""
            else:
                level, content = 0, line
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
                if not _worded(content):
                    continue  # a rule, stars, a character that draws nothing: not the top's end
                if top.opens:
                    opened.append(level)
                    top.opens = False
                parsed = self.vocabulary.parse_line(content)
                if parsed is None:  # "Private / Confidential", "PRIVATE/CONFIDENTIAL"
                    parsed = stricter_piece(self.vocabulary, content)
                if parsed is None:  # "1. Confidential", "CONFI🔒DENTIAL", "CONFI-" / "DENTIAL"
                    parsed = stricter_reshaped(self.vocabulary, content,
                                               "".join(_following(lines, index, level, 1)))
                if parsed is None and self.vocabulary.withdraws(content):
                    # "[ ] Cleared for publication" / "[x] Internal": a checklist's next
                    # lines are still read, for a stricter stamp
                    self._past_cap(top, lines, index, level)
                if parsed is not None:
                    self._add(parsed, top, lines, index, level)
                    top.read += 1
                    if top.read >= MAX_STAMP_LINES:
                        self._past_cap(top, lines, index, level)
                        top = None
                    continue
                top = None
            if ordinary(content):
                continue
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
        return None

    def _past_cap(self, top: _Top, lines: Sequence[str], index: int, level: int) -> None:
        """Stricter stamps on the stamp lines that go on past ``top``'s cap."""
        following = _following(lines, index, level, MAX_CAPPED_LINES)
        past_cap(self.vocabulary, following,
                 lambda parsed: self._add(parsed, top, following, len(following), level))

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

    def _add(self, parsed: StampLine, top: _Top, lines: Sequence[str], index: int,
             level: int) -> None:
        """File a stamp line of ``top``; "Needs adjustment" takes its list from the next lines."""
        adjustments: tuple[str, ...] = ()
        if parsed.stamp is Stamp.NEEDS_ADJUSTMENT:
            following = [] if parsed.trailer else _following(lines, index, level,
                                                               MAX_ADJUSTMENT_LINES)
            adjustments = listed_adjustments(parsed.trailer, following)
        finding = StampFinding(parsed.stamp, top.location, min(top.depth, MAX_DEPTH),
                               adjustments, parsed.count, _source(parsed))
        (self.own if top.own else self.embedded).append(finding)


def _worded(content: str) -> bool:
    """Whether a line has a letter or a digit: a line of dashes, stars or marks that draw
    nothing (U+FFFC) neither is a stamp nor ends the stamp lines at a text's top."""
    return any(ch.isalnum() for ch in content)


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
