"""Closed sets shared by the core: stamps, verdicts, where a stamp was found."""

from __future__ import annotations

import enum


class Stamp(enum.Enum):
    """The four stamps of the guidance, least to most restrictive."""

    CLEARED = "cleared"
    NEEDS_ADJUSTMENT = "needs_adjustment"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"

    @property
    def rank(self) -> int:
        return _STAMP_RANK[self]

    @property
    def label(self) -> str:
        return _STAMP_LABEL[self]


_STAMP_RANK = {
    Stamp.CLEARED: 1,
    Stamp.NEEDS_ADJUSTMENT: 2,
    Stamp.INTERNAL: 3,
    Stamp.CONFIDENTIAL: 4,
}

_STAMP_LABEL = {
    Stamp.CLEARED: "Cleared for publication",
    Stamp.NEEDS_ADJUSTMENT: "Needs adjustment",
    Stamp.INTERNAL: "Internal",
    Stamp.CONFIDENTIAL: "Confidential",
}


class Verdict(enum.Enum):
    """What happens to one recipient; ordered so that the stricter one wins."""

    ALLOW = "allow"
    HOLD = "hold"
    BOUNCE = "bounce"

    @property
    def rank(self) -> int:
        return _VERDICT_RANK[self]


_VERDICT_RANK = {Verdict.ALLOW: 0, Verdict.HOLD: 1, Verdict.BOUNCE: 2}


def strictest(verdicts: list[Verdict] | tuple[Verdict, ...]) -> Verdict:
    """The most restrictive verdict of a non-empty list (ties cannot differ)."""
    return max(verdicts, key=lambda v: v.rank)


class Location(enum.Enum):
    """Where in a message a stamp was read."""

    BODY = "body"
    HTML = "html"
    SUBJECT = "subject"
    HEADER = "header"
    QUOTED = "quoted"
    FORWARDED = "forwarded"
    ATTACHED = "attached"
    THREAD = "thread"
    DOCUMENT = "document"
    LABEL = "label"
    # A partner's label header (X-Protective-Marking, SIO-Label, X-TLP) of the message itself.
    LABEL_HEADER = "label-header"
    # A field Outlook shows beside the message (Sensitivity, X-Message-Flag, Thread-Topic).
    SHOWN_HEADER = "shown-header"

    @property
    def embedded(self) -> bool:
        return self in (Location.QUOTED, Location.FORWARDED, Location.ATTACHED,
                        Location.DOCUMENT)
