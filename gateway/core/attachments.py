"""Which reader reads an attached file, by its bytes; archives are opened level by level."""

from __future__ import annotations

from gateway.core.doc_office import is_odf, is_ooxml, read_odf, read_ooxml
from gateway.core.doc_pdf import read_pdf
from gateway.core.doc_rtf import read_rtf
from gateway.core.doc_tnef import SIGNATURE as TNEF_SIGNATURE
from gateway.core.doc_tnef import read_tnef
from gateway.core.doc_zip import member, open_archive
from gateway.core.documents import (
    DOCUMENT_EXTENSIONS,
    MEGABYTE,
    TEXT_EXTENSIONS,
    Budget,
    Document,
    DocumentLimits,
    Unreadable,
    clipped,
    decode_text,
    extension,
)

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Stream names of an encrypted Office file (OOXML wrapped in an OLE container), UTF-16.
_OLE_ENCRYPTED = ("EncryptedPackage".encode("utf-16-le"), "EncryptionInfo".encode("utf-16-le"))
_PDF_LOOKAHEAD = 1024
# Characters of an encoded part decoded to tell its kind (base64: 3 KiB, past the lookahead).
SNIFF_CHARS = 4096
NOT_WHAT_IT_SAYS = "unknown"
# Members of an archive left unexpanded: pictures, sound and video are not documents.
MEDIA_EXTENSIONS = frozenset({
    ".jpg", ".jpeg", ".png", ".gif", ".heic", ".heif", ".webp", ".tif", ".tiff", ".bmp",
    ".mp4", ".mov", ".m4v", ".avi", ".mkv", ".mp3", ".m4a", ".wav", ".ogg", ".opus",
})


def sniff(name: str, data: bytes) -> str | None:
    """The kind of file by its first bytes (then its name for plain text); None: not ours."""
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return "zip"
    if b"%PDF-" in data[:_PDF_LOOKAHEAD]:
        return "pdf"
    if data.startswith(_OLE):
        return "ole"
    if data.lstrip()[:5] == b"{\\rtf":
        return "rtf"
    if data.startswith(TNEF_SIGNATURE):
        return "tnef"  # winmail.dat: the body Outlook shows
    ext = extension(name)
    if ext in TEXT_EXTENSIONS:
        return "text"
    if ext in DOCUMENT_EXTENSIONS:
        return NOT_WHAT_IT_SAYS  # named like a document we read, but its bytes are not one
    return None


def not_what_it_says(name: str) -> Document:
    """A file named like a document whose bytes are not one: it cannot be read."""
    return Document(name, NOT_WHAT_IT_SAYS,
                    unreadable=f"not a valid {extension(name).lstrip('.')} file")


def is_document(name: str, content_type: str) -> bool:
    """Whether a part goes to the document readers: sent as application/* or RTF, or named
    like a document that is not plain text (text/* parts are read as mail text)."""
    return (content_type.startswith("application/") or content_type == "text/rtf"
            or extension(name) in DOCUMENT_EXTENSIONS - TEXT_EXTENSIONS)


def read_attachment(name: str, data: bytes,
                    limits: DocumentLimits) -> tuple[Document, ...]:
    """Every document in one attached file (a .zip gives one per member it could read).

    Never raises: a file that cannot be read is a ``Document`` whose ``unreadable`` says why.
    """
    budget = Budget(limits)
    found: list[Document] = []
    _read(name, data, budget, 0, found)
    return tuple(found)


def _read(name: str, data: bytes, budget: Budget, depth: int, found: list[Document]) -> None:
    limits = budget.limits
    kind = sniff(name, data)
    if kind is None or len(found) >= limits.max_documents:
        return
    if len(data) > limits.max_bytes:
        found.append(Document(name, kind, unreadable=f"larger than "
                                                      f"{limits.max_bytes / MEGABYTE:.3g} MB"))
        return
    try:
        _dispatch(name, kind, data, budget, depth, found)
    except Unreadable as why:
        found.append(Document(name, kind, unreadable=str(why)))
    except RecursionError:
        found.append(Document(name, kind, unreadable="nested too deeply to read"))
    except Exception as exc:  # a reader bug fails closed for this file, not the message
        found.append(Document(name, kind, unreadable=f"could not be read ({type(exc).__name__})"))


def _dispatch(name: str, kind: str, data: bytes, budget: Budget, depth: int,
              found: list[Document]) -> None:
    limits = budget.limits
    if kind == "pdf":
        found.append(read_pdf(name, data, budget))
    elif kind == "rtf":
        found.append(read_rtf(name, data, budget))
    elif kind == "text":
        found.append(Document(name, "text", clipped(decode_text(data), limits)))
    elif kind == "ole":
        if any(marker in data for marker in _OLE_ENCRYPTED):
            raise Unreadable("encrypted")
        raise Unreadable("legacy Office or Outlook format (OLE), not read")
    elif kind == "tnef":
        document, files = read_tnef(name, data, budget)
        found.append(document)
        for inner_name, inner in files if depth < limits.max_depth else []:
            _read(inner_name, inner, budget, depth + 1, found)
    elif kind == NOT_WHAT_IT_SAYS:
        found.append(not_what_it_says(name))
    elif kind == "zip":
        archive = open_archive(data, budget)
        with archive:
            if is_ooxml(archive):
                found.append(read_ooxml(name, archive, budget))
            elif is_odf(archive):
                found.append(read_odf(name, archive, budget))
            else:
                if depth >= limits.max_depth:
                    raise Unreadable(f"archives nested deeper than {limits.max_depth}")
                for info in archive.infolist():
                    if info.is_dir() or extension(info.filename) in MEDIA_EXTENSIONS:
                        continue
                    inner = member(archive, info, budget)
                    _read(f"{name}/{info.filename}", inner, budget, depth + 1, found)
    else:
        raise AssertionError(f"no reader for kind {kind!r}")
