"""Content-Transfer-Encoding undone as leniently as mail clients undo it."""

from __future__ import annotations

import binascii
import enum
import re
from dataclasses import dataclass

from gateway.core.headers import uncommented

_TOKEN = re.compile(r"[A-Za-z0-9_.+-]+")
# Deleted with bytes.translate: one pass in C, where a regex substitution per line break
# made decoding the largest part of reading a message with a base64 attachment.
_WHITESPACE = b" \t\r\n\f\v"
_B64_PREFIX = re.compile(rb"[A-Za-z0-9+/]*")
_B64_CHARS = re.compile(rb"[^A-Za-z0-9+/]+")
_B64_PADDING = re.compile(rb"=+")
_QP_SOFT_SPACE = re.compile(rb"=[ \t]+(?=\r?\n)")
_QP_TRAILING = re.compile(rb"[ \t]+(?=\r?\n)")
_UU_BEGIN = re.compile(rb"^begin(?:-base64)?[ \t]+[0-7]{3,4}[ \t][^\n]*\n", re.MULTILINE)


class Encoding(enum.Enum):
    """The transfer encodings a client undoes; anything else is shown as it came."""

    IDENTITY = "identity"
    BASE64 = "base64"
    QUOTED_PRINTABLE = "quoted-printable"
    UUENCODE = "uuencode"


_NAMES = {
    "base64": Encoding.BASE64,
    "quoted-printable": Encoding.QUOTED_PRINTABLE,
    "x-uuencode": Encoding.UUENCODE, "x-uue": Encoding.UUENCODE, "uuencode": Encoding.UUENCODE,
    "x-uuencoded": Encoding.UUENCODE, "uue": Encoding.UUENCODE,
}


@dataclass(frozen=True, slots=True)
class Undone:
    """The decoded bytes, and what was odd (``defects``) or makes them unreliable."""

    data: bytes
    # Another decoding a client may show (base64 whose garbage is skipped, not a stop, and
    # whose padded pieces are decoded one after another).
    alternative: bytes | None = None
    defects: tuple[str, ...] = ()
    unreadable: str | None = None


def encoding_of(value: str | None) -> Encoding:
    """``base64 (comment)``, ``Base64 `` and friends: comments dropped, case ignored."""
    if not value:
        return Encoding.IDENTITY
    token = _TOKEN.search(uncommented(value).replace(")", " "))
    if token is None:
        return Encoding.IDENTITY
    return _NAMES.get(token.group(0).lower(), Encoding.IDENTITY)


def undo(payload: bytes, encoding: Encoding) -> Undone:
    """Decode ``payload``; never raises."""
    match encoding:
        case Encoding.IDENTITY:
            return Undone(payload)
        case Encoding.BASE64:
            return _base64(payload)
        case Encoding.QUOTED_PRINTABLE:
            return _quoted_printable(payload)
        case Encoding.UUENCODE:
            return _uudecode(payload)
    raise AssertionError(encoding)


def _b64(chars: bytes) -> bytes:
    usable = len(chars) - len(chars) % 4
    tail = chars[usable:]
    data = binascii.a2b_base64(chars[:usable]) if usable else b""
    if len(tail) >= 2:
        data += binascii.a2b_base64(tail + b"=" * (4 - len(tail)))
    return data


def _base64(payload: bytes) -> Undone:
    """Clients decode up to the first byte that is not base64; what follows is a defect."""
    cleaned = payload.translate(None, _WHITESPACE)
    # Well-formed base64 (quads of the alphabet, padding only at the end) decodes the same
    # either way; checked by the decoder itself, it costs no pass of its own (a regex over
    # a megabyte took as long as decoding it).
    try:
        return Undone(binascii.a2b_base64(cleaned, strict_mode=True))
    except binascii.Error:
        pass
    prefix = _B64_PREFIX.match(cleaned)
    assert prefix is not None
    valid = prefix.group(0)
    rest = cleaned[len(valid):].lstrip(b"=")
    data = _b64(valid)
    if not rest:
        return Undone(data)
    # Thunderbird's decoder skips what is not base64 and starts afresh after padding: the
    # pieces of a concatenated body (each padded at its end) decode one after another.
    skipped = b"".join(_b64(_B64_CHARS.sub(b"", piece))
                       for piece in _B64_PADDING.split(cleaned))
    alternative = skipped if skipped != data else None
    if not data.strip():  # nothing before the garbage: no reading is certain
        return Undone(b"", defects=("base64 garbage",),
                      unreadable="base64 part that does not decode")
    return Undone(data, alternative, ("base64 with a garbage tail (read up to it)",))


def _quoted_printable(payload: bytes) -> Undone:
    # Trailing white space is transport padding (RFC 2045 6.7), also after a soft break;
    # Thunderbird keeps it, which makes a format=flowed line soft: that is read too.
    softened = _QP_SOFT_SPACE.sub(b"=", payload)
    text = _QP_TRAILING.sub(b"", softened)
    try:
        data = binascii.a2b_qp(text)
        kept = binascii.a2b_qp(softened) if len(text) != len(softened) else data
    except (binascii.Error, ValueError):
        return Undone(b"", unreadable="quoted-printable part that does not decode")
    return Undone(data, kept if kept != data else None)


def _uudecode(payload: bytes) -> Undone:
    begin = _UU_BEGIN.search(payload)
    if begin is None:
        return Undone(b"", unreadable="uuencoded part without a begin line")
    out: list[bytes] = []
    for line in payload[begin.end():].splitlines():
        stripped = line.rstrip(b"\r")
        if stripped.strip() in (b"end", b"`", b""):
            if stripped.strip() == b"end":
                return Undone(b"".join(out))
            continue
        try:
            out.append(binascii.a2b_uu(stripped))
        except binascii.Error:
            return Undone(b"".join(out), unreadable="uuencoded part that does not decode")
    return Undone(b"".join(out), defects=("uuencoded part without an end line",))
