"""PDF: the text of the first pages, the document information and its Purview labels (pypdf)."""

from __future__ import annotations

import io
import re

from gateway.core.documents import Budget, Document, Unreadable, clipped
from gateway.core.labels import msip_labels

_KEYWORD_SPLIT = re.compile(r"[;,]")


def read_pdf(name: str, data: bytes, budget: Budget) -> Document:
    """Text of the first ``max_pages`` pages; each page's first and last lines are margins.

    A PDF that opens with an empty user password (owner restrictions only) is read; one that
    needs a password is ``encrypted``.
    """
    # Imported on the first PDF: a gateway process that never reads one stays ~10 MB smaller.
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    limits = budget.limits
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise Unreadable("encrypted")
        info = reader.metadata
        fields = [(str(k).lstrip("/"), _text(v)) for k, v in (info or {}).items()]
        pages: list[str] = []
        margins: list[str] = []
        for page in reader.pages[:limits.max_pages]:
            text = page.extract_text() or ""
            pages.append(text)
            lines = [line for line in text.splitlines() if line.strip()]
            if lines:
                margins.append(lines[-1])
    except Unreadable:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError,
            OSError, RecursionError, AssertionError, NotImplementedError) as exc:
        # pypdf raises many kinds for broken files; any of them means "cannot be read".
        raise Unreadable(f"corrupt PDF ({type(exc).__name__})") from exc
    by_key = dict(fields)
    properties = tuple(v for v in (by_key.get("Title", ""), by_key.get("Subject", "")) if v)
    keywords = tuple(k.strip() for k in _KEYWORD_SPLIT.split(by_key.get("Keywords", ""))
                     if k.strip())
    return Document(name, "pdf", clipped("\n".join(pages), limits), tuple(margins), properties,
                    keywords, msip_labels(fields))


def _text(value: object) -> str:
    return value if isinstance(value, str) else str(value)
