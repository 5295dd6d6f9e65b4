"""Office Open XML (docx, xlsx, pptx) and OpenDocument (odt, ods, odp): text, margins, labels."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from typing import NoReturn
from xml.etree.ElementTree import Element, ParseError, fromstring
from xml.parsers import expat

from gateway.core.doc_zip import member, named
from gateway.core.documents import Budget, Document, Unreadable, clipped
from gateway.core.labels import msip_labels

_OOXML_KINDS = (("word/document.xml", "docx"), ("xl/workbook.xml", "xlsx"),
                ("ppt/presentation.xml", "pptx"))
_NUMBERED = re.compile(r"(\d+)\.xml$")
# Excel header/footer codes: &L &C &R sections, &P page, &"font,style", &12 size.
_EXCEL_CODES = re.compile(r'&(?:"[^"]*"|\d+|[A-Za-z&])')
_ODF_MARGINS = frozenset({"header", "footer", "header-left", "footer-left", "header-first",
                          "footer-first"})
_KEYWORD_SPLIT = re.compile(r"[;,]")


def is_ooxml(archive: zipfile.ZipFile) -> bool:
    return "[Content_Types].xml" in archive.NameToInfo


def is_odf(archive: zipfile.ZipFile) -> bool:
    return "mimetype" in archive.NameToInfo and "content.xml" in archive.NameToInfo


def local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


class _Locals(dict[object, str]):
    """``local`` of each tag, worked out once per tag: a document has a few dozen tag names
    and tens of thousands of elements."""

    def __missing__(self, tag: object) -> str:
        name = self[tag] = local(tag)
        return name


class _Declared(Exception):
    """The XML has a document type declaration (where entities live)."""


def _refuse(*_: object) -> NoReturn:
    raise _Declared


def parse(data: bytes, what: str) -> Element:
    """XML with DTDs, entities and external references refused.

    Expat reads the bytes once with only these declarations' handlers set (so it calls
    back into Python for them alone; their text is decoded first, whatever the encoding),
    then ElementTree's C parser builds the tree of the XML, which then has no DTD. This is
    the refusal defusedxml makes, whose parser calls Python for every element and took
    three times as long.
    """
    check = expat.ParserCreate()
    check.StartDoctypeDeclHandler = _refuse
    check.EntityDeclHandler = _refuse
    check.UnparsedEntityDeclHandler = _refuse
    check.ExternalEntityRefHandler = _refuse
    try:
        check.Parse(data, True)
        root: Element = fromstring(data)
    except _Declared:
        raise Unreadable(f"{what} declares entities or a DTD (refused)") from None
    except (expat.ExpatError, ParseError, ValueError) as exc:
        raise Unreadable(f"corrupt XML in {what}") from exc
    return root


def _xml(archive: zipfile.ZipFile, name: str, budget: Budget) -> Element | None:
    data = named(archive, name, budget)
    return None if data is None else parse(data, name)


def _numbered(archive: zipfile.ZipFile, prefix: str) -> list[zipfile.ZipInfo]:
    """Members like ``ppt/slides/slide12.xml`` in numeric order."""
    found = [i for i in archive.infolist()
             if i.filename.startswith(prefix) and i.filename.endswith(".xml")
             and "/" not in i.filename[len(prefix):]]

    def number(info: zipfile.ZipInfo) -> int:
        match = _NUMBERED.search(info.filename)
        return int(match.group(1)) if match else 0

    return sorted(found, key=number)


def _ooxml_paragraphs(root: Element, names: frozenset[str]) -> Iterator[str]:
    """The text of each paragraph-like element (``w:p``, ``a:p``, ``si``): its ``t`` runs."""
    locals_ = _Locals()
    for element in root.iter():
        if locals_[element.tag] not in names:
            continue
        pieces: list[str] = []
        for node in element.iter():
            name = locals_[node.tag]
            if name == "t" and node.text:
                pieces.append(node.text)
            elif name == "tab":
                pieces.append("\t")
            elif name in ("br", "cr"):
                pieces.append("\n")
        yield "".join(pieces)


def read_ooxml(name: str, archive: zipfile.ZipFile, budget: Budget) -> Document:
    """A docx, xlsx or pptx: body text, headers and footers, core and custom properties."""
    kind = next((k for part, k in _OOXML_KINDS if part in archive.NameToInfo), None)
    if kind is None:
        raise Unreadable("Office container without a document part")
    paragraphs: list[str] = []
    margins: list[str] = []
    if kind == "docx":
        body = _xml(archive, "word/document.xml", budget)
        if body is not None:
            paragraphs.extend(_ooxml_paragraphs(body, frozenset({"p"})))
        for prefix in ("word/header", "word/footer"):
            for info in _numbered(archive, prefix):
                part = parse(member(archive, info, budget), info.filename)
                margins.append("\n".join(_ooxml_paragraphs(part, frozenset({"p"}))))
    elif kind == "xlsx":
        strings = _xml(archive, "xl/sharedStrings.xml", budget)
        if strings is not None:
            paragraphs.extend(_ooxml_paragraphs(strings, frozenset({"si"})))
        for info in _numbered(archive, "xl/worksheets/sheet"):
            sheet = parse(member(archive, info, budget), info.filename)
            paragraphs.extend(_ooxml_paragraphs(sheet, frozenset({"is"})))
            for element in sheet.iter():
                if local(element.tag) in ("oddHeader", "oddFooter", "firstHeader",
                                          "firstFooter", "evenHeader", "evenFooter"):
                    margins.append(_EXCEL_CODES.sub(" ", element.text or "").strip())
    else:
        for info in _numbered(archive, "ppt/slides/slide"):
            slide = parse(member(archive, info, budget), info.filename)
            paragraphs.extend(_ooxml_paragraphs(slide, frozenset({"p"})))
    properties, keywords = _core_properties(archive, budget)
    custom = _custom_properties(archive, budget)
    return Document(name, kind, clipped("\n".join(paragraphs), budget.limits), tuple(margins),
                    properties, keywords, msip_labels(custom))


def _core_properties(archive: zipfile.ZipFile,
                     budget: Budget) -> tuple[tuple[str, ...], tuple[str, ...]]:
    root = _xml(archive, "docProps/core.xml", budget)
    if root is None:
        return (), ()
    properties: list[str] = []
    keywords: list[str] = []
    for element in root:
        name, text = local(element.tag), (element.text or "").strip()
        if not text:
            continue
        if name in ("title", "subject"):
            properties.append(text)
        elif name == "keywords":
            keywords.extend(k.strip() for k in _KEYWORD_SPLIT.split(text) if k.strip())
    return tuple(properties), tuple(keywords)


def _custom_properties(archive: zipfile.ZipFile, budget: Budget) -> list[tuple[str, str]]:
    """``docProps/custom.xml``: each property's name and its value's text."""
    root = _xml(archive, "docProps/custom.xml", budget)
    if root is None:
        return []
    return [(prop.get("name", ""), "".join(prop.itertext()))
            for prop in root if local(prop.tag) == "property"]


def read_odf(name: str, archive: zipfile.ZipFile, budget: Budget) -> Document:
    """An OpenDocument file: body paragraphs, master-page headers and footers, meta.xml."""
    mimetype = (named(archive, "mimetype", budget) or b"").decode("ascii", "replace").strip()
    kind = {"text": "odt", "spreadsheet": "ods",
            "presentation": "odp"}.get(mimetype.rpartition(".")[2], "odf")
    manifest = named(archive, "META-INF/manifest.xml", budget)
    if manifest is not None and b"encryption-data" in manifest:
        raise Unreadable("encrypted")
    content = _xml(archive, "content.xml", budget)
    paragraphs = list(_odf_paragraphs(content)) if content is not None else []
    margins: list[str] = []
    styles = _xml(archive, "styles.xml", budget)
    if styles is not None:
        for element in styles.iter():
            if local(element.tag) in _ODF_MARGINS:
                margins.append("\n".join(_odf_paragraphs(element)))
    properties: list[str] = []
    keywords: list[str] = []
    custom: list[tuple[str, str]] = []
    meta = _xml(archive, "meta.xml", budget)
    for element in meta.iter() if meta is not None else ():
        tag, text = local(element.tag), "".join(element.itertext()).strip()
        if tag in ("title", "subject") and text:
            properties.append(text)
        elif tag == "keyword" and text:
            keywords.append(text)
        elif tag == "user-defined":
            key = next((v for k, v in element.attrib.items() if local(k) == "name"), "")
            custom.append((key, text))
    return Document(name, kind, clipped("\n".join(paragraphs), budget.limits), tuple(margins),
                    tuple(properties), tuple(keywords), msip_labels(custom))


def _odf_paragraphs(root: Element) -> Iterator[str]:
    locals_ = _Locals()
    for element in root.iter():
        if locals_[element.tag] in ("p", "h"):
            yield "".join(element.itertext())
