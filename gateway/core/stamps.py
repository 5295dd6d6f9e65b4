"""Read the stamps of a message: top texts, Subject, X-Stamp, attached messages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from gateway.core.doc_stamps import Found, read_document, read_labels
from gateway.core.labels import PROTECTIVE_MARKING, SIO, TLP
from gateway.core.message import MAX_DEPTH, MessageFacts
from gateway.core.model import Location, Stamp
from gateway.core.scan import StampFinding, read_subject, read_top_text, scan_text
from gateway.core.text import normalise_phrase
from gateway.core.vocabulary import Vocabulary

__all__ = [
    "StampFinding",
    "StampReading",
    "Vocabulary",
    "read_stamps",
    "read_subject",
    "read_top_text",
    "strictest_finding",
]

# The value the gateway writes in its own X-Stamp when it found no stamp; a message relayed
# by it and then forwarded or resent carries it.
GATEWAY_NO_STAMP = "none"


@dataclass(frozen=True, slots=True)
class StampReading:
    """Every stamp of a message: its own, and those of embedded content."""

    own: tuple[StampFinding, ...]
    embedded: tuple[StampFinding, ...]
    unreadable: tuple[str, ...]
    # Attached files that could not be read ("attachment X cannot be read: encrypted").
    files: tuple[str, ...] = ()
    # Labels of the message's own label headers (X-Protective-Marking, SIO-Label, X-TLP):
    # the sender's client wrote them, so they may make the decision stricter, never looser
    # (rules_labels.py); they are not part of ``stamp``.
    guarded: tuple[StampFinding, ...] = ()
    # A Cleared stamp was read in the body where not every reader sees it (``_shown_clearance``).
    withheld: bool = False

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
    """All stamps of a message; an X-Stamp value we cannot read makes it unreadable.

    The gateway's own values (a stamp's name, or ``none``) are read as what they say.
    """
    own: list[StampFinding] = []
    embedded: list[StampFinding] = []
    unreadable: list[str] = []
    documents = Found()
    withheld = _read_message(facts, vocabulary, 0, own, embedded, unreadable, documents)
    if facts.failed:  # fails closed, as a read that runs out of time does
        own = [f for f in own if f.stamp is not Stamp.CLEARED]
    embedded.extend(documents.findings)
    unreadable.extend(documents.unmapped)
    guarded = Found()
    _read_label_headers(facts, vocabulary, Location.LABEL_HEADER, 0, guarded)
    unreadable.extend(guarded.unmapped)
    return StampReading(tuple(dict.fromkeys(own)), tuple(dict.fromkeys(embedded)),
                        tuple(dict.fromkeys(unreadable)), tuple(dict.fromkeys(documents.files)),
                        tuple(dict.fromkeys(guarded.findings)),
                        withheld and strictest_finding(own) is None)


_HEADER_NAMES = {PROTECTIVE_MARKING: "the X-Protective-Marking header",
                 SIO: "the SIO-Label header", TLP: "a TLP header (X-TLP)"}


# The reason a decision gives when a Cleared read in the body did not count.
CLEARED_WITHHELD = ("a Cleared stamp in the body does not count: not every version a reader "
                    "sees shows it on the first line (it is hidden, struck through, in one "
                    "alternative only, or in a charset some mail clients cannot show)")


def _shown_clearance(tops: list[tuple[bool, list[StampFinding]]]) -> list[StampFinding]:
    """The stamps at the tops of a message's texts, *Cleared* only where a reader sees it.

    Hidden text and one part of several alone are read so that a stricter stamp there
    counts; they never clear a message. A body's *Cleared* stands when a rendering a reader
    sees shows it and every such rendering has a stamp at its top (a stricter one wins
    anyway): where one shows none (a hidden *Cleared* above unstamped text, a plain
    alternative stamped and the HTML one not), that reader sees an unstamped message.
    """
    found = [f for _, top in tops for f in top]
    if not any(f.stamp is Stamp.CLEARED for f in found):
        return found
    shown = [top for seen, top in tops if seen]
    clears = any(f.stamp is Stamp.CLEARED for top in shown for f in top)
    if clears and all(shown):
        return found
    return [f for f in found if f.stamp is not Stamp.CLEARED]


def _read_label_headers(facts: MessageFacts, vocabulary: Vocabulary, location: Location,
                        depth: int, found: Found) -> None:
    """The labels of a message's label headers, each named by the header that carried it."""
    for label in facts.label_headers:
        read_labels((label,), vocabulary, location, depth,
                    _HEADER_NAMES.get(label.scheme, "a label header"), found)


def _read_message(facts: MessageFacts, vocabulary: Vocabulary, depth: int,
                  own: list[StampFinding], embedded: list[StampFinding],
                  unreadable: list[str], documents: Found) -> bool:
    """One message: its top texts, Subject, X-Stamp and labels; its attached documents (all
    embedded); then the messages attached to it. True when a Cleared of its body was read
    where not every reader sees it.

    An attached message (``depth`` > 0) has all of its stamps filed as embedded, named by
    its file name when it has one.
    """
    top_location = Location.ATTACHED if depth else None
    mine = own if depth == 0 else embedded
    start = len(mine)
    unreadable.extend(facts.unreadable)
    tops: list[tuple[bool, list[StampFinding]]] = []
    for part in facts.top_texts:
        top, inside = scan_text(part.text, vocabulary, top_location or part.location, depth)
        tops.append((part.shown, top))
        embedded.extend(inside)
    found = [f for _, top in tops for f in top]
    kept = _shown_clearance(tops)
    mine.extend(kept)
    for subject in (facts.subject, *facts.other_subjects):
        mine.extend(read_subject(subject, vocabulary, top_location or Location.SUBJECT, depth))
    for flag in facts.flags:
        mine.extend(f for f in read_subject(flag, vocabulary,
                                            top_location or Location.SHOWN_HEADER, depth)
                    if f.stamp is not Stamp.CLEARED)
    for value in facts.x_stamps:
        stamp = vocabulary.read_value(value)
        if stamp is None and normalise_phrase(value) == GATEWAY_NO_STAMP:
            continue  # the gateway's own "no stamp found", read back from a resent message
        if stamp is None:
            unreadable.append("X-Stamp header with a value that is not a known stamp")
        else:
            mine.append(StampFinding(stamp, top_location or Location.HEADER, depth))
    label_found = Found()
    read_labels(facts.labels, vocabulary, top_location or Location.LABEL, depth,
                "the msip_labels header", label_found)
    if depth:  # an attached message's label headers are its labels, like its stamps
        _read_label_headers(facts, vocabulary, top_location or Location.LABEL_HEADER, depth,
                            label_found)
    mine.extend(label_found.findings)
    unreadable.extend(label_found.unmapped)
    if depth and facts.name:
        mine[start:] = [f if f.source else replace(f, source=facts.name) for f in mine[start:]]
    for document in facts.documents:
        read_document(document, vocabulary, min(depth + 1, MAX_DEPTH), documents)
    for inner in facts.attached:
        _read_message(inner, vocabulary, min(depth + 1, MAX_DEPTH), own, embedded, unreadable,
                      documents)
    return len(kept) < len(found)  # a Cleared of the body did not count


