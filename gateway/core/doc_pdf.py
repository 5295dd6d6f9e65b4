"""PDF: the text of the first pages, the document information and its Purview labels (pypdf)."""

from __future__ import annotations

import io
import re
from typing import Any

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
        for page in first_pages(reader, limits.max_pages):
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


# Bounds on the page tree walked to the first pages: nodes looked at, and its depth (pypdf
# allows 100,000 entries and a depth of 100 to its whole tree).
MAX_TREE_NODES = 10_000
MAX_TREE_DEPTH = 100
_INHERITED = ("/Resources", "/MediaBox", "/CropBox", "/Rotate")


def first_pages(reader: Any, count: int) -> list[Any]:
    """The first ``count`` pages, in the page tree's order, with the attributes they inherit
    from the tree's nodes (resources, boxes, rotation), as pypdf's ``reader.pages`` has them.

    pypdf builds its page list from the whole tree, reading every page's dictionary first:
    6 ms for the 40 pages of the bench's PDF, a quarter of reading its first five. This walk
    stops at the last page it needs. A node that is not a dictionary, a ``/Kids`` that is not
    an array, a node inside itself, or a tree beyond the bounds above is a corrupt PDF.
    """
    from pypdf import PageObject
    from pypdf.generic import (
        ArrayObject,
        DictionaryObject,
        IndirectObject,
        NameObject,
        NullObject,
    )

    pages: list[Any] = []
    root = reader.trailer["/Root"].get_object()
    top = root.get("/Pages") if isinstance(root, DictionaryObject) else None
    if top is None:
        raise Unreadable("corrupt PDF (no page tree)")
    # Each open node: its kids still to walk, what they inherit, the node itself.
    stack: list[tuple[Any, dict[str, Any], int]] = [(iter([top]), {}, 0)]
    nodes = 0
    while stack and len(pages) < count:
        kids, inherited, _ = stack[-1]
        kid = next(kids, None)
        if kid is None:
            stack.pop()
            continue
        nodes += 1
        if nodes > MAX_TREE_NODES or len(stack) > MAX_TREE_DEPTH:
            raise Unreadable("corrupt PDF (page tree too large)")
        node = kid.get_object()
        if not isinstance(node, DictionaryObject):
            raise Unreadable("corrupt PDF (page tree)")
        kind = node.get("/Type")  # dict.get: an indirect value comes unresolved
        kind = kind.get_object() if kind is not None else None
        if kind == "/Pages" or (kind is None and "/Kids" in node):
            if any(id(node) == open_id for _, _, open_id in stack):
                raise Unreadable("corrupt PDF (page tree inside itself)")
            below = dict(inherited)
            below.update((name, node[name]) for name in _INHERITED if name in node)
            children = node.get("/Kids")
            children = children.get_object() if children is not None else ArrayObject()
            if isinstance(children, NullObject):  # as pypdf reads it: no kids
                children = ArrayObject()
            if not isinstance(children, ArrayObject):
                raise Unreadable("corrupt PDF (page tree)")
            stack.append((iter(children), below, id(node)))
        elif kind is None or kind == "/Page":
            reference = kid if isinstance(kid, IndirectObject) else None
            page = PageObject(reader, reference)
            if reference is None:
                page.update(node)
            for name, value in inherited.items():
                if name not in page:
                    page[NameObject(name)] = value
            pages.append(page)
    return pages


def _text(value: object) -> str:
    return value if isinstance(value, str) else str(value)
