"""Charset labels resolved as browsers and mail clients do (the WHATWG Encoding Standard)."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import webencodings  # type: ignore[import-untyped]

# Where Python's codec for a label decodes less than the Encoding Standard's decoder: GBK
# is decoded as GB18030 (its four-byte sequences), EUC-JP with the NEC rows (Ⅰ).
_AS_THE_STANDARD = {"gbk": "gb18030", "euc_jp": "euc_jis_2004"}
# A byte-order mark overrides the label, as in the Encoding Standard's "decode".
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be"))
# Python codecs that must never be used for mail text: they transform, they do not decode.
_NOT_TEXT = frozenset({"base64", "hex", "quopri", "uu", "zlib", "bz2", "rot-13", "punycode",
                       "idna", "raw-unicode-escape", "unicode-escape", "undefined"})


@dataclass(frozen=True, slots=True)
class Decoded:
    """Text decoded from bytes, or why it could not be read for certain."""

    text: str
    unreadable: str | None = None
    # What a client that follows the Encoding Standard shows instead, where it differs: one
    # U+FFFD for a label it decodes with its replacement decoder (ISO-2022-KR, HZ), the bytes
    # in its default charset for a label only Python knows (cp037, UTF-32). Another reading.
    other: str | None = None


def resolve(label: str) -> str | None:
    """The Python codec for a charset label, or None when no client would know it.

    The WHATWG table comes first (``unicode`` is UTF-16LE, ``latin1`` is windows-1252,
    ``ks_c_5601-1987`` is EUC-KR); labels it lacks (``utf-7``) fall back to Python's codecs.
    """
    return _resolve(label)[0]


def _resolve(label: str) -> tuple[str | None, bool]:
    """``resolve``, and whether the Encoding Standard knows the label."""
    name = label.strip().strip("\"'").strip()
    if not name:
        return None, False
    encoding = webencodings.lookup(name)
    if encoding is not None:
        if encoding.name in ("replacement", "x-user-defined"):
            return str(encoding.name), True  # decoded by no client into readable text
        codec = str(encoding.codec_info.name)
        return _AS_THE_STANDARD.get(codec, codec), True
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None, False
    if info.name in _NOT_TEXT or not getattr(info, "_is_text_encoding", True):
        return None, False
    return info.name, False


def decode(raw: bytes, label: str | None) -> Decoded:
    """Bytes of a part to text; an unknown label is readable only for pure ASCII bytes.

    Without a label, UTF-8 is tried and then windows-1252, as clients guess.
    """
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            return Decoded(raw[len(bom):].decode(codec, errors="replace"))
    if label is None or not label.strip().strip("\"'").strip():
        return Decoded(guess(raw))
    resolved, standard = _resolve(label)
    if resolved is None or resolved in ("replacement", "x-user-defined"):
        if raw.isascii():
            return Decoded(raw.decode("ascii"),
                           other="\ufffd" if resolved == "replacement" and raw else None)
        return Decoded(guess(raw), f"text in an unknown charset ({_short(label)})")
    try:
        text = (_iso2022jp(raw) if resolved == "iso2022_jp"
                else raw.decode(resolved, errors=_errors(resolved)))
    except (LookupError, ValueError, TypeError):
        return Decoded(guess(raw), f"text that does not decode as {_short(label)}")
    if not standard:
        shown = guess(raw)
        return Decoded(text, other=shown if shown != text else None)
    return Decoded(text)


def decode_html(raw: bytes, label: str | None) -> Decoded:
    """An HTML part's bytes to text: without a charset label in its Content-Type, the one
    its ``<meta>`` declares, as browsers and Thunderbird take it (the guess a client that
    ignores it makes is the other reading)."""
    if label is not None and label.strip().strip("\"'").strip():
        return decode(raw, label)
    declared = _META.search(raw[:_PRESCAN])
    if declared is None:
        return decode(raw, None)
    found = decode(raw, declared.group(1).decode("ascii"))
    shown = guess(raw)
    return Decoded(found.text, found.unreadable, shown if shown != found.text else None)


# <meta charset="x">, <meta http-equiv="Content-Type" content="text/html; charset=x">, in
# the first 1024 bytes, as the Encoding Standard's prescan reads them.
_PRESCAN = 1024
_META = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([A-Za-z0-9._:-]{1,40})",
                   re.IGNORECASE)


# The charsets mail clients assume for unlabelled 8-bit text in their users' locales
# (Thunderbird's and Chromium's detectors pick among them): Cyrillic, Arabic, Greek,
# Hebrew, Central European, Chinese, Japanese, Korean; and the other Cyrillic and Arabic
# charsets the detector (chardetng) knows: ISO-8859-5, IBM866 (DOS), ISO-8859-6.
LOCALE_CHARSETS = ("cp1251", "koi8_r", "cp1256", "cp1253", "cp1255", "cp1250", "gb18030",
                   "big5", "shift_jis", "euc_kr", "iso8859_5", "cp866", "iso8859_6")
# Labels that say "ASCII" (the Encoding Standard reads them as windows-1252): 8-bit bytes
# under them are unlabelled text to a client that detects.
_ASCII_LABELS = ("us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "us", "iso-ir-6")
# Labels that name no byte order: without a byte-order mark the Encoding Standard reads
# little-endian, Apple Mail big-endian.
_BIG_ENDIAN = {"utf-16": "utf-16-be", "unicode": "utf-16-be", "ucs-2": "utf-16-be",
               "utf-32": "utf-32-be", "ucs-4": "utf-32-be"}
_WIDE_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE,
              codecs.BOM_UTF32_BE)
# Bytes of a part decoded in each of them: its top and what follows it closely.
GUESSED_BYTES = 65536
# Of a labelled part (mislabelled, as a detecting client may show it): its top.
MISLABELLED_BYTES = 2048


def unsure(label: str) -> bool:
    """Whether a client may not trust ``label`` for 8-bit bytes: none, an unknown one, an
    ASCII one or UTF-8 (the bytes may not be UTF-8); it then detects the charset."""
    plain = label.strip().strip("\"'").strip().lower()
    return plain in ("", *_ASCII_LABELS) or resolve(plain) in (None, "utf-8")


def big_endian(raw: bytes, label: str) -> str | None:
    """``raw`` read big-endian, as Apple Mail reads it, when ``label`` names UTF-16 or UTF-32
    without a byte order and the bytes have no byte-order mark; None otherwise."""
    wide = _BIG_ENDIAN.get(label.strip().strip("\"'").strip().lower())
    if wide is None or raw.startswith(_WIDE_BOMS):
        return None
    return raw.decode(wide, errors="replace")


def locale_readings(raw: bytes, label: str | None, html: bool = False,
                    shown: str = "\ufffd") -> list[str]:
    """8-bit text no label decodes (none, ``us-ascii``, or ``utf-8`` over bytes that are not
    UTF-8) in each locale charset a client may assume (7-bit text with ISO-2022-JP's
    escapes, as ISO-2022-JP), UTF-16 or UTF-32 without a
    byte-order mark big-endian, valid UTF-8 under another label as UTF-8, plain text under
    another legacy label in each locale charset (mislabelled), and HZ or ISO-2022-KR with
    the code page: readings for stricter stamps. ``shown``, the text as decoded already:
    under a ``utf-8`` label, without U+FFFD it was valid UTF-8."""
    plain = (label or "").strip().strip("\"'").strip().lower()
    wide = _BIG_ENDIAN.get(plain)
    if wide is not None and not raw.startswith(_WIDE_BOMS):  # Apple Mail reads it big-endian
        return [raw[:GUESSED_BYTES].decode(wide, errors="replace")]
    name = None if plain in ("", *_ASCII_LABELS) else resolve(plain)
    if name == "replacement":
        shown_so = codepage_reading(raw[:GUESSED_BYTES], plain)
        return [] if shown_so is None else [shown_so]
    if name not in (None, "utf-8"):
        # the label, unless a client that detects the charset shows other text: valid
        # UTF-8 as UTF-8; plain text in one of its locale charsets (mislabelled)
        detected = _utf8_under(raw)
        if detected or html or name.startswith(("utf-16", "utf-32", "utf_16", "utf_32")):
            return detected
        return _in_locales(_top(raw), shown)
    if name == "utf-8" and "\ufffd" not in shown:
        return []  # the text is valid UTF-8
    head = raw[:GUESSED_BYTES]
    if name is None and b"\x1b" in head and _JP_ESCAPE.search(head):
        # 7-bit text with ISO-2022-JP's escapes: a detecting client (chardetng) shows it so
        return [_iso2022jp(head)]
    if head.isascii() or (html and name is None and _META.search(raw[:_PRESCAN])):
        return []
    try:  # valid UTF-8 is what a detecting client shows (an ASCII label decodes otherwise)
        text = head.decode("utf-8")
        return [text] if plain in _ASCII_LABELS else []
    except UnicodeDecodeError:
        pass
    return _in_locales(head, guess(head))


def _top(raw: bytes) -> bytes:
    """The top of a text, where its stamp is: its first ``MISLABELLED_BYTES`` past leading
    blank lines, to a line break (a mislabelled text's other readings are of its top only:
    a long legacy text is read 14 times over otherwise)."""
    start = len(raw) - len(raw.lstrip(b" \t\r\n"))
    head = raw[start:start + MISLABELLED_BYTES]
    if len(raw) - start > MISLABELLED_BYTES:
        head = head[:head.rfind(b"\n") + 1] or head
    return head


def _in_locales(head: bytes, shown: str) -> list[str]:
    """8-bit ``head`` in each locale charset, but for the text ``shown`` already."""
    if head.isascii():
        return []
    readings = {head.decode(codec, errors="replace") for codec in LOCALE_CHARSETS}
    return sorted(readings - {shown[:len(head)], shown})


def codepage_reading(raw: bytes, label: str) -> str | None:
    """Text under a label the Encoding Standard decodes as one U+FFFD (HZ, ISO-2022-KR) as
    Python's codec for it decodes it, as Outlook does with the Windows code page; None for
    any other label."""
    if resolve(label) != "replacement":
        return None
    try:
        info = codecs.lookup(label.strip().strip("\"'").strip())
        return None if info.name in _NOT_TEXT else raw.decode(info.name, errors="replace")
    except (LookupError, ValueError, TypeError):
        return None


def _utf8_under(raw: bytes) -> list[str]:
    """Text that is valid UTF-8, 8-bit, under another label (``windows-1251``): shown as
    UTF-8 by a client that detects the charset (webmail, Thunderbird's "Repair Text
    Encoding"), as mojibake by one that follows the label; the UTF-8 reading, if any."""
    head = raw[:GUESSED_BYTES]
    if head.isascii():
        return []
    if len(raw) > GUESSED_BYTES:  # a character cut at the end is no reason to doubt it
        head = head[:head.rfind(b"\n") + 1] or head
    try:
        return [head.decode("utf-8")]
    except UnicodeDecodeError:
        return []


def guess(raw: bytes) -> str:
    """UTF-8 if the bytes are valid UTF-8, else windows-1252 (never raises)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors=_C1)


def _iso2022jp(raw: bytes) -> str:
    """ISO-2022-JP as the Encoding Standard decodes it: its JIS X 0208 runs read with the
    NEC rows Python's codec lacks (``ESC $ B`` ``-5`` is Ⅰ), by way of EUC-JP."""
    out = bytearray()
    mode = "ascii"
    position = 0
    while position < len(raw):
        escape = _JP_ESCAPES.get(raw[position:position + 3])
        if escape is not None:
            mode = escape
            position += 3
            continue
        byte = raw[position]
        if mode == "jis" and byte not in b"\r\n" and position + 1 < len(raw):
            out += bytes((byte | 0x80, raw[position + 1] | 0x80))
            position += 2
            continue
        if mode == "kana" and 0x21 <= byte <= 0x5F:
            out += bytes((0x8E, byte | 0x80))
        else:
            out.append(byte)
        position += 1
    return out.decode("euc_jis_2004", errors="replace")


_JP_ESCAPE = re.compile(rb"\x1b(?:\$[@B]|\(I)")
_JP_ESCAPES = {b"\x1b(B": "ascii", b"\x1b(J": "ascii", b"\x1b$@": "jis", b"\x1b$B": "jis",
               b"\x1b(I": "kana"}


def _c1(error: UnicodeError) -> tuple[str, int]:
    """The Encoding Standard's windows-1252: the five bytes Python leaves undefined (0x81,
    0x8D, 0x8F, 0x90, 0x9D) are the C1 controls of the same number, which draw nothing."""
    assert isinstance(error, UnicodeDecodeError)
    return "".join(chr(b) for b in error.object[error.start:error.end]), error.end


_C1 = "stampgate-c1"
codecs.register_error(_C1, _c1)


def _errors(codec: str) -> str:
    return _C1 if codec == "cp1252" else "replace"


def _short(label: str) -> str:
    cleaned = "".join(ch for ch in label if ch.isprintable())
    return cleaned[:40]
