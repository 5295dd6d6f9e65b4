"""winmail.dat (TNEF, MS-OXTNEF): the body Outlook shows from it instead of the MIME text.

Outlook sends its rich-text mail as a TNEF attachment beside a plain text part; an Outlook
that receives it shows the TNEF's body (plain, or compressed RTF) and Subject, other
clients the plain part. The reader takes the message's Subject and body from the TNEF
attributes and the MAPI properties block, and hands back the files it carries.
"""

from __future__ import annotations

import struct

from gateway.core.doc_rtf import read_rtf
from gateway.core.documents import Budget, Document, Unreadable, clipped, decode_text

SIGNATURE = b"\x78\x9f\x3e\x22"
# Attributes (id | type << 16), MS-OXTNEF 2.1.3.
_SUBJECT = 0x00018004
_BODY = 0x0002800C
_MESSAGE_PROPS = 0x00069003
_ATTACHMENT_PROPS = 0x00069005
_OEM_CODEPAGE = 0x00069007
_ATTACH_TITLE = 0x00018010
_ATTACH_DATA = 0x0006800F
# MAPI property ids and types (MS-OXCMSG, MS-OXCDATA).
_PR_SUBJECT = 0x0037
_PR_BODY = 0x1000
_PR_RTF_COMPRESSED = 0x1009
_PT_STRING8, _PT_UNICODE, _PT_BINARY, _PT_OBJECT = 0x001E, 0x001F, 0x0102, 0x000D
_VARIABLE = frozenset({_PT_STRING8, _PT_UNICODE, _PT_BINARY, _PT_OBJECT})
_FIXED = {0x0002: 4, 0x0003: 4, 0x0004: 4, 0x0005: 8, 0x0006: 8, 0x0007: 8, 0x000A: 4,
          0x000B: 4, 0x0014: 8, 0x0040: 8, 0x0048: 16}
_MULTIPLE = 0x1000
MAX_ATTRIBUTES = 10_000
MAX_PROPERTIES = 10_000
# The dictionary compressed RTF starts with (MS-OXRTFCP 2.1.2.1).
_RTF_PREFIX = (b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman "
               b"\\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New "
               b"RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0"
               b"\\fs20\\b\\i\\u\\tab\\tx")
_LZFU, _MELA = 0x75465A4C, 0x414C454D


def read_tnef(name: str, data: bytes, budget: Budget) -> tuple[Document, list[tuple[str, bytes]]]:
    """The message Outlook shows from a TNEF file (its body, its Subject as a property), and
    the files attached inside it (name, bytes)."""
    if not data.startswith(SIGNATURE):
        raise Unreadable("not a TNEF file")
    try:
        return _read(name, data, budget)
    except struct.error:
        raise Unreadable("TNEF file cut short") from None


def _read(name: str, data: bytes, budget: Budget) -> tuple[Document, list[tuple[str, bytes]]]:
    codepage = "cp1252"
    subjects: list[str] = []
    bodies: list[str] = []
    files: list[tuple[str, bytes]] = []
    title = ""
    position = 6
    for _ in range(MAX_ATTRIBUTES):
        if position + 9 > len(data):
            break
        level = data[position]
        attribute, length = struct.unpack_from("<II", data, position + 1)
        value = data[position + 9:position + 9 + length]
        if len(value) < length:
            raise Unreadable("TNEF attribute cut short")
        position += 9 + length + 2  # the checksum
        if attribute == _OEM_CODEPAGE and len(value) >= 4:
            codepage = f"cp{struct.unpack_from('<I', value)[0]}"
        elif level == 1 and attribute == _SUBJECT:
            subjects.append(_string8(value, codepage))
        elif level == 1 and attribute == _BODY:
            bodies.append(_string8(value, codepage))
        elif level == 1 and attribute == _MESSAGE_PROPS:
            _properties(value, codepage, subjects, bodies, budget)
        elif level == 2 and attribute == _ATTACH_TITLE:
            title = _string8(value, codepage)
        elif level == 2 and attribute == _ATTACH_DATA:
            files.append((f"{name}/{title or 'attachment'}", value))
    body = "\n\n".join(text for text in bodies if text.strip())
    document = Document(name, "tnef", clipped(body, budget.limits),
                        properties=tuple(dict.fromkeys(s for s in subjects if s.strip())))
    return document, files


def _properties(block: bytes, codepage: str, subjects: list[str], bodies: list[str],
                budget: Budget) -> None:
    """The Subject and body among a MAPI properties block's values (MS-OXTNEF 2.1.3.4)."""
    (count,), position = struct.unpack_from("<I", block), 4
    left = MAX_PROPERTIES  # values read, of all the properties together
    for _ in range(min(count, MAX_PROPERTIES)):
        kind, ident = struct.unpack_from("<HH", block, position)
        position += 4
        if ident >= 0x8000:  # a named property: its GUID, then a number or a name
            (named,) = struct.unpack_from("<I", block, position + 16)
            position += 20
            if named == 0:
                position += 4
            else:
                (size,) = struct.unpack_from("<I", block, position)
                position += 4 + _padded(size)
        base = kind & ~_MULTIPLE
        values = 1
        if kind & _MULTIPLE or base in _VARIABLE:
            (values,) = struct.unpack_from("<I", block, position)
            position += 4
        if base in _FIXED:
            position += _FIXED[base] * values
            continue
        if base not in _VARIABLE:
            raise Unreadable(f"TNEF property of unknown type {kind:#x}")
        if values > left or position > len(block):
            raise Unreadable("TNEF properties past their end")
        left -= values
        for _ in range(values):
            (size,) = struct.unpack_from("<I", block, position)
            value = block[position + 4:position + 4 + size]
            position += 4 + _padded(size)
            text = _property_text(ident, base, value, codepage, budget)
            if text is not None:
                (subjects if ident == _PR_SUBJECT else bodies).append(text)


def _property_text(ident: int, base: int, value: bytes, codepage: str,
                   budget: Budget) -> str | None:
    if ident in (_PR_SUBJECT, _PR_BODY) and base == _PT_UNICODE:
        return value.decode("utf-16-le", "replace").rstrip("\x00")
    if ident in (_PR_SUBJECT, _PR_BODY) and base == _PT_STRING8:
        return _string8(value, codepage)
    if ident == _PR_RTF_COMPRESSED and base == _PT_BINARY:
        rtf = decompressed_rtf(value, budget.limits.max_bytes)
        return read_rtf("body.rtf", rtf, budget).body
    return None


def decompressed_rtf(data: bytes, cap: int) -> bytes:
    """Compressed RTF (MS-OXRTFCP): LZFu, or MELA stored as it is; at most ``cap`` bytes."""
    if len(data) < 16:
        raise Unreadable("compressed RTF cut short")
    size, raw_size, method = struct.unpack_from("<III", data)
    if method == _MELA:
        return data[16:16 + raw_size]
    if method != _LZFU:
        raise Unreadable("compressed RTF of an unknown kind")
    window = bytearray(_RTF_PREFIX.ljust(4096, b"\x00"))
    write = len(_RTF_PREFIX)
    out = bytearray()
    position, end = 16, min(len(data), size + 4)
    while position < end:
        control = data[position]
        position += 1
        for bit in range(8):
            if position >= end:
                break
            if not control & (1 << bit):
                window[write] = data[position]
                out.append(data[position])
                write = (write + 1) % 4096
                position += 1
                continue
            if position + 1 >= end:
                break
            reference = (data[position] << 8) | data[position + 1]
            position += 2
            offset, length = reference >> 4, (reference & 0xF) + 2
            if offset == write:
                return bytes(out)
            for step in range(length):
                byte = window[(offset + step) % 4096]
                window[write] = byte
                out.append(byte)
                write = (write + 1) % 4096
            if len(out) > min(raw_size + 4096, cap):
                raise Unreadable("compressed RTF larger than it says")
    return bytes(out)


def _string8(value: bytes, codepage: str) -> str:
    text = value.split(b"\x00", 1)[0]
    try:
        return text.decode(codepage, "replace")
    except LookupError:
        return decode_text(text)


def _padded(size: int) -> int:
    return size + (-size % 4)
