"""The stamps of attached documents and of sensitivity labels, as findings naming their source."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from gateway.core.documents import Document
from gateway.core.labels import MSIP, Label
from gateway.core.model import Location
from gateway.core.scan import StampFinding, read_subject, read_top_text
from gateway.core.text import normalised_lines
from gateway.core.vocabulary import Vocabulary

# Lines of one header or footer looked at: each may carry the stamp.
MAX_MARGIN_LINES = 20


@dataclass(slots=True)
class Found:
    """What the documents and labels of one message said."""

    findings: list[StampFinding] = field(default_factory=list)
    # Labels the policy does not map, when labels.toml says such a label is unreadable.
    unmapped: list[str] = field(default_factory=list)
    # "attachment X cannot be read: encrypted", one per file.
    files: list[str] = field(default_factory=list)


def read_labels(labels: tuple[Label, ...], vocabulary: Vocabulary, location: Location,
                depth: int, where: str, found: Found) -> None:
    """Enabled labels the policy maps become findings; unmapped ones may make it unreadable."""
    known = vocabulary.labels
    for label in labels:
        if not label.enabled or (label.scheme != MSIP and not known.reads(label.scheme)):
            continue  # a family without a table in labels.toml is not read
        stamp = known.stamp_for(label)
        if stamp is not None:
            found.findings.append(StampFinding(stamp, location, depth,
                                               source=f"label {label.shown} in {where}"))
        elif known.unknown_unreadable and not known.known(label):
            found.unmapped.append(f"sensitivity label {label.shown} in {where} "
                                  "is not mapped in labels.toml")


def read_document(document: Document, vocabulary: Vocabulary, depth: int, found: Found) -> None:
    """A document's first line, headers and footers, title, subject, keywords and labels."""
    name = document.name
    if document.unreadable is not None:
        found.files.append(f"attachment {name} cannot be read: {document.unreadable}")
        return
    location = Location.DOCUMENT

    def named(findings: list[StampFinding], where: str) -> None:
        found.findings.extend(replace(f, source=f"{name}, {where}") for f in findings)

    named(read_top_text(document.body, vocabulary, location, depth), "first line")
    # A header or footer line is read like a Subject: "Page 1 | Confidential" counts.
    for margin in document.margins:
        for line in normalised_lines(margin)[:MAX_MARGIN_LINES]:
            if line.strip():
                named(read_subject(line, vocabulary, location, depth), "header or footer")
    for value in document.properties:
        named(read_subject(value, vocabulary, location, depth), "title or subject")
    for keyword in document.keywords:
        named(read_subject(keyword, vocabulary, location, depth), "keywords")
    read_labels(document.labels, vocabulary, location, depth, name, found)
