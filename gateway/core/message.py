"""Walk the bytes of a message into the facts a decision needs (no I/O, never raises)."""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from dataclasses import dataclass, field
from email import errors as email_errors
from email.header import decode_header
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from email.utils import getaddresses

from gateway.core.html_text import visible_text
from gateway.core.model import Location

MAX_DEPTH = 5
MAX_PARTS = 500
_BASE64 = re.compile(rb"[A-Za-z0-9+/]*={0,2}")
_MSGID = re.compile(r"<[^<>\s]{1,998}>")
_PGP_MESSAGE = re.compile(r"^\s*-----BEGIN PGP MESSAGE-----", re.MULTILINE)
# A clear-signed body is readable; its armour header stands between the reader and the stamp.
_CLEARSIGNED = re.compile(r"^\s*-----BEGIN PGP SIGNED MESSAGE-----[^\n]*\n"
                          r"(?:[ \t]*\S[^\n]*\n)*?[ \t]*\n")
_ENCRYPTED_TYPES = frozenset({
    "multipart/encrypted", "application/pkcs7-mime", "application/x-pkcs7-mime",
    "application/pgp-encrypted",
})
_BROKEN_MIME = (
    email_errors.NoBoundaryInMultipartDefect,
    email_errors.StartBoundaryNotFoundDefect,
    email_errors.MultipartInvariantViolationDefect,
    email_errors.MisplacedEnvelopeHeaderDefect,
)


@dataclass(frozen=True, slots=True)
class TextPart:
    """One readable top-text alternative of a message."""

    location: Location
    text: str


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """What the stamp reader and the decision need to know about one message."""

    subject: str = ""
    x_stamps: tuple[str, ...] = ()
    from_addresses: tuple[str, ...] = ()
    message_id: str | None = None
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    top_texts: tuple[TextPart, ...] = ()
    attached: tuple[MessageFacts, ...] = ()
    unreadable: tuple[str, ...] = field(default=())

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """Every Message-ID this message refers to, nearest parent first."""
        seen: dict[str, None] = dict.fromkeys(self.in_reply_to)
        seen.update(dict.fromkeys(reversed(self.references)))
        return tuple(seen)


_PARSER = BytesParser(policy=compat32)


def parse(data: bytes) -> Message:
    """``BytesParser(policy=compat32).parsebytes(data)``, quicker for a single-part message.

    The stdlib parser walks the body line by line even when it keeps it whole; a message
    whose headers parse cleanly and that is not multipart gets its body in one piece instead.
    """
    end = data.find(b"\r\n\r\n")
    header_block = data[:end + 2]
    crlf = header_block.count(b"\r\n")
    if (end <= 0 or header_block.count(b"\n") != crlf or header_block.count(b"\r") != crlf):
        return _PARSER.parsebytes(data)  # the first empty line might be elsewhere
    head = _PARSER.parsebytes(header_block, headersonly=True)
    if (head.defects or head.get_payload() or head.get_unixfrom() is not None
            or head.get_content_maintype() in ("multipart", "message")):
        return _PARSER.parsebytes(data)
    head.set_payload(data[end + 4:].decode("ascii", "surrogateescape"))
    return head


def read_message(data: bytes) -> MessageFacts:
    """Parse raw message bytes; anything that cannot be read is listed in ``unreadable``."""
    try:
        message = parse(data)
    except Exception as exc:  # the stdlib parser is lenient; this is the last resort
        return MessageFacts(unreadable=(f"message could not be parsed ({type(exc).__name__})",))
    return _facts(message, depth=0)


def _facts(message: Message, depth: int) -> MessageFacts:
    walker = _Walker(depth)
    try:
        walker.body(message)
    except Exception as exc:  # a malformed tree must fail closed, not crash the gateway
        walker.unreadable.append(f"MIME structure could not be walked ({type(exc).__name__})")
    headers = _raw_headers(message)
    return MessageFacts(
        subject=header_text((headers.get("subject") or [""])[0]),
        x_stamps=tuple(header_text(v) for v in headers.get("x-stamp", [])),
        from_addresses=_addresses(headers.get("from", [])),
        message_id=_first_id(headers.get("message-id", [])),
        in_reply_to=_ids(headers.get("in-reply-to", [])),
        references=_ids(headers.get("references", [])),
        top_texts=tuple(walker.texts),
        attached=tuple(walker.attached),
        unreadable=tuple(walker.unreadable),
    )


def _raw_headers(message: Message) -> dict[str, list[str]]:
    """Header values as received, by lower-case name.

    ``get_all`` would turn a raw 8-bit value (UTF-8 in a Subject) into replacement characters.
    """
    headers: dict[str, list[str]] = {}
    for name, value in message.raw_items():
        headers.setdefault(str(name).strip().lower(), []).append(str(value))
    return headers


class _Walker:
    """Finds the top text (every alternative), attached messages and unreadable parts."""

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.texts: list[TextPart] = []
        self.attached: list[MessageFacts] = []
        self.unreadable: list[str] = []
        self.parts = 0

    def body(self, part: Message) -> None:
        """Read ``part`` as the top text of the message and look through the rest."""
        self._defects(part)
        ctype = part.get_content_type()
        if ctype in _ENCRYPTED_TYPES:
            self.unreadable.append(f"encrypted body ({ctype})")
        elif ctype == "multipart/alternative":
            children = self._children(part)
            for child in children:
                self.body(child)
            if not children:
                self.unreadable.append("empty multipart/alternative")
        elif ctype == "multipart/signed":
            children = self._children(part)
            if children:
                self.body(children[0])
        elif part.is_multipart():
            children = self._children(part)
            if not children:
                self.unreadable.append(f"{ctype} without parts")
                return
            self.body(children[0])
            for child in children[1:]:
                self.rest(child)
        elif ctype == "message/rfc822":
            self.rest(part)
        elif ctype in ("text/plain", "text/html") or part.get_content_maintype() == "text":
            self._text(part, ctype)

    def rest(self, part: Message) -> None:
        """A part after the top text: only attached messages and encrypted parts matter."""
        self.parts += 1
        if self.parts > MAX_PARTS:
            self.unreadable.append(f"more than {MAX_PARTS} MIME parts")
            return
        self._defects(part)
        ctype = part.get_content_type()
        if ctype in _ENCRYPTED_TYPES:
            self.unreadable.append(f"encrypted part ({ctype})")
        elif ctype == "message/rfc822":
            self._attached(part)
        elif part.is_multipart():
            for child in self._children(part):
                self.rest(child)
        elif part.get_content_maintype() == "text":
            raw = _decoded_bytes(part, self.unreadable)
            if raw is not None and _PGP_MESSAGE.search(_decode_charset(raw, _charset(part))):
                self.unreadable.append("PGP-encrypted part")

    def _attached(self, part: Message) -> None:
        if self.depth + 1 > MAX_DEPTH:
            self.unreadable.append(f"messages nested deeper than {MAX_DEPTH}")
            return
        payload = part.get_payload()
        inner: Message | None = None
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            inner = payload[0]
        else:
            raw = _decoded_bytes(part, self.unreadable)
            if raw is not None:
                inner = _PARSER.parsebytes(raw)
        if inner is None:
            self.unreadable.append("attached message could not be read")
            return
        self.attached.append(_facts(inner, self.depth + 1))

    def _children(self, part: Message) -> list[Message]:
        payload = part.get_payload()
        if not isinstance(payload, list):
            self.unreadable.append(f"{part.get_content_type()} whose parts could not be found")
            return []
        self.parts += len(payload)
        if self.parts > MAX_PARTS:
            self.unreadable.append(f"more than {MAX_PARTS} MIME parts")
            return []
        return [p for p in payload if isinstance(p, Message)]

    def _defects(self, part: Message) -> None:
        for defect in part.defects:
            if isinstance(defect, _BROKEN_MIME):
                self.unreadable.append(f"broken MIME: {type(defect).__name__}")

    def _text(self, part: Message, ctype: str) -> None:
        disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        if disposition == "attachment" and self.texts:
            return
        raw = _decoded_bytes(part, self.unreadable)
        if raw is None:
            return
        text = _decode_charset(raw, _charset(part))
        location = Location.BODY
        if ctype == "text/html":
            text, location = visible_text(text), Location.HTML
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if _PGP_MESSAGE.search(text):
            self.unreadable.append("PGP-encrypted body")
        text = _CLEARSIGNED.sub("", text, count=1)
        self.texts.append(TextPart(location, text))


def _charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except Exception:  # a malformed RFC 2231 parameter
        return None


def _decoded_bytes(part: Message, unreadable: list[str]) -> bytes | None:
    """The payload with its transfer encoding undone; raw 8-bit bytes are kept as they came."""
    if isinstance(part.get_payload(), list):
        unreadable.append("a single part carries sub-parts")
        return None
    encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if encoding == "base64":
        # get_payload(decode=True) would hand back the undecoded text on a bad length.
        cleaned = b"".join(_raw_payload(part).split())
        try:
            data = base64.b64decode(cleaned + b"==", validate=False)
        except (binascii.Error, ValueError):
            unreadable.append("base64 part that does not decode")
            return None
        if not _BASE64.fullmatch(cleaned):
            # The lenient decoder skips what is not base64; what it skipped was not read.
            unreadable.append("base64 part with characters outside base64")
        return data
    decoded = part.get_payload(decode=True)
    return decoded if isinstance(decoded, bytes) else b""


def _raw_payload(part: Message) -> bytes:
    """The payload bytes as received (the parser keeps 8-bit bytes as surrogate escapes)."""
    payload = part.get_payload(decode=False)
    if not isinstance(payload, str):
        return b""
    try:
        return payload.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        # get_payload() already decoded 8-bit text with the part's charset.
        return payload.encode("utf-8", "replace")


def _decode_charset(raw: bytes, charset: str | None) -> str:
    if charset:
        try:
            codec = codecs.lookup(charset.strip().strip('"'))
            return raw.decode(codec.name, errors="replace")
        except (LookupError, ValueError):
            pass
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def header_text(value: object) -> str:
    """A header value decoded from RFC 2047 and raw 8-bit (UTF-8, else Windows-1252)."""
    if not isinstance(value, str):
        value = str(value)
    text = _decode_charset(value.encode("utf-8", "surrogateescape"), None)
    try:
        chunks = decode_header(text)
    except Exception:
        return " ".join(text.split())
    out: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            out.append(_decode_charset(chunk, charset))
        else:
            out.append(chunk)
    return " ".join("".join(out).split())


def _addresses(values: list[str]) -> tuple[str, ...]:
    try:
        pairs = getaddresses([header_text(v) for v in values])
    except Exception:
        return ()
    return tuple(addr.strip().lower() for _, addr in pairs if "@" in addr)


def _ids(values: list[str]) -> tuple[str, ...]:
    found: list[str] = []
    for value in values:
        found.extend(_MSGID.findall(str(value)))
    return tuple(dict.fromkeys(found))


def _first_id(values: list[str]) -> str | None:
    ids = _ids(values[:1])
    return ids[0] if ids else None
