"""RFC 2047 encoded words in a header value, as clients decode them (no I/O, never raises)."""

from __future__ import annotations

import base64
import binascii
import re

from gateway.core import charsets

__all__ = ["decoded", "header_text", "loose"]

# RFC 2047 encoded words: =?charset?Q|B?payload?=
_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,80})\?([qQbB])\?([^?\s]*)\?=")
_Q_HEX = re.compile(rb"=([0-9A-Fa-f]{2})")
# As lenient decoders take them: white space inside the payload (never past a line).
_LOOSE_WORD = re.compile(r"=\?([^?\s]{1,80})\?([qQbB])\?([^?\n]{0,2000}?)\?=")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/]")
# Of a header value read in the charsets a detecting client may take: its beginning.
DETECTED_CHARS = 2048


def header_text(value: object, *, wide: bool = False) -> str:
    """A header value decoded from RFC 2047 and raw 8-bit (UTF-8, else Windows-1252).

    Encoded-words name their charset with the labels mail clients resolve (``charsets.py``);
    one only Python's codecs decode (cp037, UTF-32, HZ) reads as a client that follows the
    Encoding Standard shows it, not as the codec decodes it (that is a ``loose`` reading).
    The text around them stays as written (``=?utf-8?q?Case_12?= – Confidential``): the
    standard library's ``decode_header`` turns such text beyond Latin-1 into ``\\u2013``.
    With ``wide``, UTF-16 and UTF-32 without a byte-order mark are read big-endian.
    """
    return " ".join(decoded(value, wide).split())


def decoded(value: object, wide: bool = False) -> str:
    """``header_text`` before its white space is collapsed (line breaks kept)."""
    if not isinstance(value, str):
        value = str(value)
    text = charsets.guess(value.encode("utf-8", "surrogateescape"))
    if "=?" not in text:
        return text
    out: list[str] = []
    position = 0
    after_word = False
    for match in _ENCODED_WORD.finditer(text):
        charset, encoding, payload = match.groups()
        data = _word_bytes(encoding, payload)
        if data is None:
            continue  # not decodable: shown as written
        between = text[position:match.start()]
        if not (after_word and not between.strip()):  # white space between two words goes
            out.append(between)
        label = charset.split("*", 1)[0]
        shown = charsets.big_endian(data, label) if wide else None
        if shown is None:  # as the Encoding Standard shows it (Python's codec: ``loose``)
            found = charsets.decode(data, label)
            shown = found.text if found.other is None else found.other
        out.append(shown)
        position, after_word = match.end(), True
    out.append(text[position:])
    return "".join(out)


def loose(value: str) -> list[str]:
    """A header value's encoded words as lenient decoders (Thunderbird, Python's ``email``,
    webmail) show them: the bytes of adjacent words in one charset decoded together (a
    character split between two words is one character), base64 read past white space and a
    bad tail, a label the Encoding Standard decodes as U+FFFD (HZ) with Python's code page
    (Outlook); then, where words hold 8-bit bytes their label may not decode (an unknown
    label, ASCII, UTF-8), the value's beginning with them in each charset a client that
    detects the charset may take (the locale charsets, UTF-8)."""
    text = charsets.guess(value.encode("utf-8", "surrogateescape"))
    if "=?" not in text:
        return []
    pieces: list[str] = []
    unsure: list[tuple[int, bytes]] = []
    run: list[bytes] = []
    run_label = ""
    position = 0
    after_word = False

    def flush() -> None:
        if run:
            data = b"".join(run)
            shown = charsets.codepage_reading(data, run_label)
            pieces.append(shown if shown is not None
                          else charsets.decode(data, run_label).text)
            if not data.isascii() and charsets.unsure(run_label):
                unsure.append((len(pieces) - 1, data))
            run.clear()

    for match in _LOOSE_WORD.finditer(text):
        charset, encoding, payload = match.groups()
        data = _word_bytes(encoding, payload, lenient=True)
        if data is None:
            continue
        label = charset.split("*", 1)[0].strip("\"'").lower()
        between = text[position:match.start()]
        joined = after_word and not between.strip()  # white space between two words goes
        if not (joined and label == run_label):
            flush()
        if not joined:
            pieces.append(between)
        run.append(data)
        run_label, position, after_word = label, match.end(), True
    flush()
    pieces.append(text[position:])
    readings = ["".join(pieces)]
    for codec in (*charsets.LOCALE_CHARSETS, "utf-8") if unsure else ():
        for index, data in unsure:
            pieces[index] = data.decode(codec, "replace")
        readings.append("".join(pieces)[:DETECTED_CHARS])
    return list(dict.fromkeys(" ".join(reading.split()) for reading in readings))


def _word_bytes(encoding: str, payload: str, lenient: bool = False) -> bytes | None:
    """The bytes of an encoded word's payload (Q or B); None when B is not base64 (with
    ``lenient``: its base64 letters, past white space and anything else, to the padding)."""
    if encoding in "qQ":
        data = payload.replace("_", " ").encode("utf-8", "surrogateescape")
        return _Q_HEX.sub(lambda m: bytes((int(m.group(1), 16),)), data)
    cleaned = payload.strip()
    if lenient:
        cleaned = _NOT_BASE64.sub("", cleaned.split("=", 1)[0])
        cleaned = cleaned[:len(cleaned) - len(cleaned) % 4 if len(cleaned) % 4 == 1 else None]
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
