"""The first pages of a PDF, walked from its page tree, are the pages pypdf's list starts with."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from gateway.core import doc_pdf
from gateway.core.doc_pdf import first_pages, read_pdf
from gateway.core.documents import DEFAULT_LIMITS, Budget, Unreadable
from tests.support.documents import pdf_file

FONT = "<< /Font << /F1 3 0 R >> >>"


@dataclass
class Page:
    lines: list[str]
    own_font: bool = True  # else it inherits the font from a node above it
    typed: bool = True
    type_elsewhere: bool = False  # its /Type an indirect object


@dataclass
class Node:
    kids: list[Page | Node] = field(default_factory=list)
    font: bool = False
    rotate: int | None = None
    typed: bool = True


def tree_pdf(top: Node, cycle: bool = False) -> bytes:
    """A hand-written PDF with the page tree ``top`` (``cycle``: its first node lists the
    root among its kids)."""
    objects: dict[int, str] = {1: "<< /Type /Catalog /Pages 2 0 R >>",
                               # Its encoding shows the byte X as the letter I.
                               3: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
                                  "/Encoding << /Type /Encoding /BaseEncoding /WinAnsiEncoding "
                                  "/Differences [88 /I] >> >>"}
    counter = iter(range(4, 100_000))

    def write(item: Page | Node, number: int, parent: int | None) -> None:
        up = f" /Parent {parent} 0 R" if parent else ""
        if isinstance(item, Page):
            stream = "\n".join(["BT /F1 12 Tf 72 740 Td 16 TL",
                                *(f"({line}) Tj T*" for line in item.lines), "ET"])
            contents = next(counter)
            objects[contents] = (f"<< /Length {len(stream)} >>\nstream\n{stream}\n"
                                 "endstream")
            kind = "/Type /Page " if item.typed else ""
            if item.type_elsewhere:
                name = next(counter)
                objects[name] = "/Page"
                kind = f"/Type {name} 0 R "
            resources = f" /Resources {FONT}" if item.own_font else ""
            objects[number] = (f"<< {kind}/MediaBox [0 0 612 792]{resources}{up} "
                               f"/Contents {contents} 0 R >>")
            return
        numbers = [next(counter) for _ in item.kids]
        for kid, kid_number in zip(item.kids, numbers, strict=True):
            write(kid, kid_number, number)
        refs = " ".join(f"{n} 0 R" for n in numbers)
        if cycle and number != 2 and parent == 2:
            refs += " 2 0 R"
        kind = "/Type /Pages " if item.typed else ""
        extra = (f" /Resources {FONT}" if item.font else "") + (
            f" /Rotate {item.rotate}" if item.rotate is not None else "")
        objects[number] = f"<< {kind}/Kids [{refs}] /Count 1{extra}{up} >>"

    write(top, 2, None)
    return pdf_file(objects)


def texts(pages: list[object]) -> list[str]:
    return [page.extract_text().strip() for page in pages]  # type: ignore[attr-defined]


def pypdf_first(data: bytes, count: int) -> list[str]:
    return texts(PdfReader(io.BytesIO(data), strict=False).pages[:count])


def walked_first(data: bytes, count: int) -> list[str]:
    return texts(first_pages(PdfReader(io.BytesIO(data), strict=False), count))


WORDS = st.sampled_from(["Xnternal", "Confidential", "Cleared for publication", "Page",
                         "the report", "case 12"])
PAGES = st.builds(Page, st.lists(WORDS, min_size=1, max_size=3), st.booleans(), st.booleans(),
                  st.booleans())


def trees(depth: int) -> st.SearchStrategy[Node]:
    kids = PAGES if depth == 0 else st.one_of(PAGES, trees(depth - 1))
    return st.builds(Node, st.lists(kids, max_size=4), st.booleans(),
                     st.sampled_from([None, 0, 90, 180]), st.booleans())


@settings(max_examples=300, deadline=None)
@given(trees(3), st.integers(1, 6))
def test_the_walked_pages_are_pypdfs_first_pages(top: Node, count: int) -> None:
    """Fonts inherited from the nodes above, nodes and pages without /Type, empty nodes."""
    data = tree_pdf(top)
    assert walked_first(data, count) == pypdf_first(data, count)


def test_a_stamp_on_a_page_that_inherits_its_font_is_read() -> None:
    """The font, declared on a node above the page, says that the byte X shows as I."""
    top = Node([Node([Page(["Xnternal", "Dear all"], own_font=False)], font=True),
                Page(["Second page"])])
    document = read_pdf("a.pdf", tree_pdf(top), Budget(DEFAULT_LIMITS))
    assert document.body.splitlines()[0] == "Internal"
    assert "Second page" in document.body


def test_only_the_first_pages_of_a_long_document_are_walked() -> None:
    """Two hundred pages: the pages after the fifth are not even looked at."""
    top = Node([Node([Page([f"Page {n * 10 + k}"]) for k in range(10)]) for n in range(20)])
    reader = PdfReader(io.BytesIO(tree_pdf(top)), strict=False)
    assert texts(first_pages(reader, 5)) == [f"Page {n}" for n in range(5)]
    # Of 200 pages and their 20 nodes, the walk resolved the path to the first five; pypdf's
    # own list resolves every page.
    assert len(reader.resolved_objects) < 20
    everything = PdfReader(io.BytesIO(tree_pdf(top)), strict=False)
    assert len(everything.pages) == 200 and len(everything.resolved_objects) > 200


def test_a_page_tree_inside_itself_is_a_corrupt_pdf() -> None:
    top = Node([Node([]), Page(["Cleared for publication"])])
    with pytest.raises(Unreadable, match="page tree inside itself"):
        first_pages(PdfReader(io.BytesIO(tree_pdf(top, cycle=True)), strict=False), 5)
    with pytest.raises(Unreadable, match="corrupt PDF"):
        read_pdf("loop.pdf", tree_pdf(top, cycle=True), Budget(DEFAULT_LIMITS))


def test_a_tree_of_more_nodes_than_the_bound_before_its_pages_is_corrupt(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doc_pdf, "MAX_TREE_NODES", 50)
    top = Node([*(Node([]) for _ in range(60)), Page(["Cleared for publication"])])
    with pytest.raises(Unreadable, match="page tree too large"):
        first_pages(PdfReader(io.BytesIO(tree_pdf(top)), strict=False), 5)
    small = Node([*(Node([]) for _ in range(10)), Page(["Cleared for publication"])])
    assert walked_first(tree_pdf(small), 5) == ["Cleared for publication"]


def test_a_pdf_with_only_an_owner_password_is_read_through_the_walk() -> None:
    """Owner restrictions only (an empty user password): every viewer opens it, so it is
    read, its page tree decrypted object by object as the walk goes."""
    from pypdf import PdfWriter

    from tests.support.documents import raw_pdf

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(raw_pdf(
        [["Confidential", "Case notes"], ["Page two"]]))))
    writer.encrypt(user_password="", owner_password="only-the-owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    document = read_pdf("restricted.pdf", out.getvalue(), Budget(DEFAULT_LIMITS))
    assert document.body.splitlines()[:2] == ["Confidential", "Case notes"]
    assert "Page two" in document.body


def test_a_page_whose_type_is_an_indirect_object_is_a_page() -> None:
    """``/Type 9 0 R`` is as much a page as ``/Type /Page``: no page hides from the walk."""
    top = Node([Page(["Confidential"], type_elsewhere=True), Page(["Cleared for publication"])])
    assert walked_first(tree_pdf(top), 5) == ["Confidential", "Cleared for publication"]
    assert pypdf_first(tree_pdf(top), 5) == ["Confidential", "Cleared for publication"]


def test_a_node_whose_kids_are_null_has_none() -> None:
    """``/Kids null`` reads as no kids, as pypdf reads it, not as a corrupt file."""
    data = tree_pdf(Node([Node([]), Page(["Internal"])]))
    data = data.replace(b"/Kids [] /Count 1", b"/Kids null /Cnt 1")  # same length
    assert walked_first(data, 5) == pypdf_first(data, 5) == ["Internal"]
