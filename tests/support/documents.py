"""Real attachment files built in the tests: Office and OpenDocument zips, PDF, RTF, mail."""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage
from xml.sax.saxutils import escape

from pypdf import PdfReader, PdfWriter

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
A = "http://schemas.openxmlformats.org/drawingml/2006/main"
S = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
GUID = "f42aa342-8706-4288-bd11-ebb85995028c"
CONTENT_TYPES = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns='
                 '"http://schemas.openxmlformats.org/package/2006/content-types"/>')


def zip_members(members: dict[str, bytes | str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _core(title: str = "", subject: str = "", keywords: str = "") -> str:
    return ('<?xml version="1.0"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats'
            '.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements'
            f'/1.1/"><dc:title>{escape(title)}</dc:title><dc:subject>{escape(subject)}'
            f'</dc:subject><cp:keywords>{escape(keywords)}</cp:keywords></cp:coreProperties>')


def _custom(label: str | None, enabled: bool = True) -> str:
    props = ""
    if label is not None:
        fields = (("Enabled", "true" if enabled else "false"), ("SiteId", GUID),
                  ("Name", label), ("Method", "Standard"))
        props = "".join(
            f'<property fmtid="{{D5CDD505-2E9C-101B-9397-08002B2CF9AE}}" pid="{n + 2}" '
            f'name="MSIP_Label_{GUID}_{key}"><vt:lpwstr>{escape(value)}</vt:lpwstr></property>'
            for n, (key, value) in enumerate(fields))
    return ('<?xml version="1.0"?><Properties xmlns="http://schemas.openxmlformats.org/'
            'officeDocument/2006/custom-properties" xmlns:vt="http://schemas.openxmlformats.'
            f'org/officeDocument/2006/docPropsVTypes">{props}</Properties>')


def _w_paragraphs(lines: list[str]) -> str:
    return "".join(f'<w:p><w:r><w:t xml:space="preserve">{escape(line)}</w:t></w:r></w:p>'
                   for line in lines)


def docx(body: list[str], header: str = "", footer: str = "", title: str = "",
         subject: str = "", keywords: str = "", label: str | None = None,
         enabled: bool = True) -> bytes:
    """A Word document: paragraphs, an optional header and footer, properties, a label."""
    members: dict[str, bytes | str] = {
        "[Content_Types].xml": CONTENT_TYPES,
        "word/document.xml": f'<w:document xmlns:w="{W}"><w:body>{_w_paragraphs(body)}'
                             '</w:body></w:document>',
        "docProps/core.xml": _core(title, subject, keywords),
        "docProps/custom.xml": _custom(label, enabled),
    }
    if header:
        members["word/header1.xml"] = f'<w:hdr xmlns:w="{W}">{_w_paragraphs([header])}</w:hdr>'
    if footer:
        members["word/footer1.xml"] = f'<w:ftr xmlns:w="{W}">{_w_paragraphs([footer])}</w:ftr>'
    return zip_members(members)


def xlsx(cells: list[str], label: str | None = None) -> bytes:
    strings = "".join(f"<si><t>{escape(c)}</t></si>" for c in cells)
    return zip_members({
        "[Content_Types].xml": CONTENT_TYPES,
        "xl/workbook.xml": f'<workbook xmlns="{S}"/>',
        "xl/sharedStrings.xml": f'<sst xmlns="{S}">{strings}</sst>',
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{S}"><sheetData/></worksheet>',
        "docProps/custom.xml": _custom(label),
    })


def pptx(slides: list[str]) -> bytes:
    members: dict[str, bytes | str] = {"[Content_Types].xml": CONTENT_TYPES,
                                       "ppt/presentation.xml": "<p:presentation xmlns:p="
                                       '"http://schemas.openxmlformats.org/presentationml'
                                       '/2006/main"/>'}
    for number, text in enumerate(slides, start=1):
        members[f"ppt/slides/slide{number}.xml"] = (
            f'<p:sld xmlns:p="urn:p" xmlns:a="{A}"><a:p><a:r><a:t>{escape(text)}</a:t></a:r>'
            '</a:p></p:sld>')
    return zip_members(members)


def odt(body: list[str], footer: str = "", title: str = "", label: str | None = None,
        encrypted: bool = False) -> bytes:
    text = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
    office = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
    style = "urn:oasis:names:tc:opendocument:xmlns:style:1.0"
    meta = "urn:oasis:names:tc:opendocument:xmlns:meta:1.0"
    paragraphs = "".join(f"<text:p>{escape(line)}</text:p>" for line in body)
    user = "" if label is None else (
        f'<meta:user-defined meta:name="MSIP_Label_{GUID}_Enabled">true</meta:user-defined>'
        f'<meta:user-defined meta:name="MSIP_Label_{GUID}_Name">{escape(label)}'
        "</meta:user-defined>")
    manifest = ('<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:'
                'manifest:1.0"><manifest:file-entry manifest:full-path="content.xml">'
                + ('<manifest:encryption-data manifest:checksum="x"/>' if encrypted else "")
                + "</manifest:file-entry></manifest:manifest>")
    return zip_members({
        "mimetype": "application/vnd.oasis.opendocument.text",
        "META-INF/manifest.xml": manifest,
        "content.xml": f'<office:document-content xmlns:office="{office}" xmlns:text="{text}">'
                       f"<office:body><office:text>{paragraphs}</office:text></office:body>"
                       "</office:document-content>",
        "styles.xml": f'<office:document-styles xmlns:office="{office}" xmlns:style="{style}" '
                      f'xmlns:text="{text}"><style:footer><text:p>{escape(footer)}</text:p>'
                      "</style:footer></office:document-styles>",
        "meta.xml": f'<office:document-meta xmlns:office="{office}" xmlns:meta="{meta}" '
                    f'xmlns:dc="http://purl.org/dc/elements/1.1/"><office:meta><dc:title>'
                    f"{escape(title)}</dc:title>{user}</office:meta></office:document-meta>",
    })


def _pdf_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def raw_pdf(pages: list[list[str]]) -> bytes:
    """A PDF written by hand: each page shows its lines in Helvetica, top to bottom."""
    objects: list[str] = []
    page_ids = [4 + 2 * n for n in range(len(pages))]
    objects.append("<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>")
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for number, lines in enumerate(pages):
        ops = ["BT /F1 12 Tf 72 740 Td 16 TL"]
        ops += [f"({_pdf_string(line)}) Tj T*" for line in lines]
        ops.append("ET")
        stream = "\n".join(ops)
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
                       f"<< /Font << /F1 3 0 R >> >> /Contents {page_ids[number] + 1} 0 R >>")
        objects.append(f"<< /Length {len(stream.encode('latin-1'))} >>\nstream\n{stream}\n"
                       "endstream")
    return pdf_file(dict(enumerate(objects, start=1)))


def pdf_file(objects: dict[int, str]) -> bytes:
    """A PDF of ``objects`` by number (1 the catalog), with its cross-reference table;
    numbers left out are free entries."""
    out = b"%PDF-1.4\n"
    offsets: dict[int, int] = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += f"{number} 0 obj\n{objects[number]}\nendobj\n".encode("latin-1")
    size = max(objects) + 1
    xref = len(out)
    out += f"xref\n0 {size}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offsets[n]:010d} 00000 n \n" if n in offsets else "0000000000 00000 f \n"
                   for n in range(1, size)).encode()
    out += (f"trailer\n<< /Size {size} /Root 1 0 R >>\nstartxref\n{xref}\n"
            "%%EOF\n").encode()
    return out


def pdf(pages: list[list[str]], metadata: dict[str, str] | None = None,
        password: str | None = None, label: str | None = None) -> bytes:
    """A hand-written PDF, given document information, a Purview label, a password by pypdf."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(raw_pdf(pages))))
    info = {f"/{k}": v for k, v in (metadata or {}).items()}
    if label is not None:
        info[f"/MSIP_Label_{GUID}_Enabled"] = "true"
        info[f"/MSIP_Label_{GUID}_Name"] = label
    if info:
        writer.add_metadata(info)
    if password is not None:
        writer.encrypt(password, algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def rtf(body: list[str], header: str = "", title: str = "") -> bytes:
    info = f"{{\\info{{\\title {title}}}{{\\author Someone}}}}" if title else ""
    head = f"{{\\header \\pard\\plain {header}\\par}}" if header else ""
    paragraphs = "".join(f"\\pard {line}\\par\n" for line in body)
    return (f"{{\\rtf1\\ansi\\ansicpg1252\\deff0{{\\fonttbl{{\\f0 Times New Roman;}}}}"
            f"{info}{head}\n{paragraphs}}}").encode("latin-1")


def zipped(members: dict[str, bytes], password_flag: bool = False) -> bytes:
    """A .zip of ``members``; ``password_flag`` marks every member encrypted, as a password
    zip does."""
    data = zip_members(dict(members))
    if not password_flag:
        return data
    raw = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (found := raw.find(signature, start)) != -1:
            raw[found + offset] |= 0x01
            start = found + 4
    return bytes(raw)


def zip_bomb(megabytes: int = 200) -> bytes:
    """One member of zeros that expands far past any sane ratio."""
    out = io.BytesIO()
    block = b"\0" * (1024 * 1024)
    with (zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive,
          archive.open("report.txt", "w", force_zip64=True) as member):
        for _ in range(megabytes):
            member.write(block)
    return out.getvalue()


def encrypted_office() -> bytes:
    """The start of an OLE compound file holding an encrypted OOXML package (as Office saves a
    password-protected .docx): the header and a directory naming its streams."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504
    directory = b"".join(name.encode("utf-16-le").ljust(64, b"\0") + b"\0" * 64
                         for name in ("Root Entry", "EncryptionInfo", "EncryptedPackage"))
    return header + directory


def mail(body: str, attachments: list[tuple[str, bytes]], subject: str = "Report",
         to: str = "press@example.org", headers: dict[str, str] | None = None) -> bytes:
    """A message with ``body`` as text and each attachment base64-encoded."""
    message = EmailMessage()
    message["From"] = "alice@example.org"
    message["To"] = to
    message["Subject"] = subject
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    for filename, data in attachments:
        message.add_attachment(data, maintype="application", subtype="octet-stream",
                               filename=filename)
    return message.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
