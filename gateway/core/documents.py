"""Attached documents: what one file holds that a stamp or a label may sit in (pure, bounded)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.core.labels import Label

MEGABYTE = 1024 * 1024
# Extensions read as plain text when the part's type does not say text/*.
TEXT_EXTENSIONS = frozenset({".txt", ".csv", ".tsv", ".md", ".text"})
# Extensions of formats the gateway reads; a part named so is read whatever its type says.
DOCUMENT_EXTENSIONS = frozenset({
    ".docx", ".docm", ".dotx", ".xlsx", ".xlsm", ".pptx", ".pptm", ".odt", ".ods", ".odp",
    ".pdf", ".rtf", ".zip", ".doc", ".xls", ".ppt", ".msg", *TEXT_EXTENSIONS,
})


@dataclass(frozen=True, slots=True)
class DocumentLimits:
    """How much of the attachments of one message the readers may look at.

    Every bound is on what the reader does, not on what the sender claims: a zip's declared
    sizes are checked and then enforced while expanding.
    """

    max_bytes: int = 10 * MEGABYTE  # one attachment, decoded
    max_pages: int = 5  # PDF pages whose text is read
    max_entries: int = 1000  # members of one archive looked at
    max_expanded: int = 50 * MEGABYTE  # bytes expanded from archives, per attachment
    max_ratio: int = 200  # expansion ratio of one member that counts as a bomb
    max_depth: int = 3  # archives inside archives
    max_text: int = 2_000_000  # characters kept of one document's text
    max_documents: int = 200  # documents read from one message


DEFAULT_LIMITS = DocumentLimits()


@dataclass(frozen=True, slots=True)
class Document:
    """What a reader found in one attached file.

    ``body`` is the text whose first non-blank line may be a stamp; ``margins`` are headers
    and footers (each line may be one); ``properties`` are title and subject; ``keywords``
    each on their own. ``unreadable`` says why the file could not be read (it is then held
    on its way out, whatever else it says).
    """

    name: str
    kind: str
    body: str = ""
    margins: tuple[str, ...] = ()
    properties: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    labels: tuple[Label, ...] = ()
    unreadable: str | None = None

    @property
    def text(self) -> str:
        """Everything readable of the file, for the protected-client register."""
        return "\n".join(t for t in (*self.properties, *self.keywords, *self.margins, self.body)
                         if t)


class Unreadable(Exception):
    """A reader's way of saying the file cannot be read; the message says why in a few words."""


class Budget:
    """Bytes left to expand from archives, and documents left to read, for one attachment."""

    def __init__(self, limits: DocumentLimits) -> None:
        self.limits = limits
        self.expanded = limits.max_expanded

    def spend(self, size: int) -> None:
        if size > self.expanded:
            raise Unreadable(f"zip bomb: expands to more than "
                             f"{self.limits.max_expanded // MEGABYTE} MB")
        self.expanded -= size


MAX_NAME = 80


def shown_name(name: str) -> str:
    """A file name fit for reasons and replies: no control characters, at most ``MAX_NAME``."""
    cleaned = " ".join("".join(c if c.isprintable() else " " for c in name).split())
    return cleaned if len(cleaned) <= MAX_NAME else cleaned[:MAX_NAME - 1] + "…"


def extension(name: str) -> str:
    """``.docx`` of ``Report.DOCX``; empty without one."""
    base = name.rsplit("/", 1)[-1].lower()
    dot = base.rfind(".")
    return base[dot:] if dot > 0 else ""


def decode_text(data: bytes) -> str:
    """Bytes of a text file: UTF-8 (with or without BOM), UTF-16 with a BOM, else Windows-1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def clipped(text: str, limits: DocumentLimits) -> str:
    return text[:limits.max_text]
