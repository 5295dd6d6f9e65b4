"""A held message for a reviewer's eyes: headers, text, sanitised HTML, attachments (pure)."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage, Message

import nh3

MAX_TEXT = 1_000_000
MAX_PARTS = 500
# Elements whose content goes with them; everything else not allowed keeps only its text.
DROPPED_WITH_CONTENT = {"script", "style", "head", "title", "noscript", "template", "iframe",
                        "object", "embed", "svg", "math"}


@dataclass(frozen=True, slots=True)
class Attachment:
    index: int
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class Rendered:
    headers: tuple[tuple[str, str], ...]
    text: str | None
    html: str | None
    attachments: tuple[Attachment, ...]


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def render(data: bytes) -> Rendered:
    """Headers as decoded text, the first text and HTML bodies, the attachments."""
    return render_with_parts(data)[0]


def render_with_parts(data: bytes) -> tuple[Rendered, list[tuple[int, str, str, bytes]]]:
    """``render`` and ``attachment_parts`` from one parse of the message."""
    message = parse(data)
    text: str | None = None
    html: str | None = None
    attachments: list[Attachment] = []
    parts: list[tuple[int, str, str, bytes]] = []
    for index, part, is_attachment in _leaves(message):
        ctype = part.get_content_type()
        if is_attachment:
            payload = _payload(part)
            attachments.append(Attachment(index, _filename(part, index), ctype, len(payload)))
            parts.append((index, _scan_name(part), ctype, payload))
        elif ctype == "text/plain" and text is None:
            text = _text(part)
        elif ctype == "text/html" and html is None:
            html = _text(part)
    return Rendered(_headers(message), text, html, tuple(attachments)), parts


def attachment(data: bytes, index: int) -> tuple[str, bytes] | None:
    """The ``index``-th leaf part, if it is an attachment: (file name, bytes)."""
    for number, part, is_attachment in _leaves(parse(data)):
        if number == index and is_attachment:
            return _filename(part, index), _payload(part)
    return None


def attachment_parts(data: bytes) -> list[tuple[int, str, str, bytes]]:
    """Every attachment as (index, file name as the photo scan names it, type, bytes)."""
    return render_with_parts(data)[1]


def _scan_name(part: Message) -> str:
    """The name the photo scan gives a part's findings (its file name, cleaned the same
    way), or "" for a part without one."""
    try:
        name = part.get_filename()
    except Exception:  # a malformed parameter: no name
        name = None
    if not name:
        return ""
    return "".join(c if c.isprintable() else "?" for c in str(name)).strip()[:120]


def sanitise(html: str) -> str:
    """Keep formatting; drop scripts, styles, event handlers, links and every remote source."""
    return nh3.clean(html, clean_content_tags=DROPPED_WITH_CONTENT,
                     attribute_filter=_attribute_filter, link_rel=None, strip_comments=True,
                     url_schemes={"data"})


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if attribute in ("href", "src", "srcset", "background", "poster", "action", "cite",
                     "longdesc", "usemap"):
        # An inline image may stay; nothing else may make the viewer fetch or navigate.
        if attribute == "src" and tag == "img" and value.lower().startswith("data:image/"):
            return value
        return None
    return value


def _leaves(message: Message) -> Iterator[tuple[int, Message, bool]]:
    """Every non-multipart part, numbered, with whether it is an attachment.

    An attached message (``message/rfc822``) is one attachment: it is not opened here.
    """
    count = 0
    stack: list[Message] = [message]
    while stack and count < MAX_PARTS:
        part = stack.pop(0)
        if part.is_multipart() and part.get_content_maintype() == "multipart":
            stack[0:0] = [p for p in part.get_payload() if isinstance(p, Message)]
            continue
        count += 1
        ctype = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        is_attachment = (disposition == "attachment" or part.get_filename() is not None
                         or ctype not in ("text/plain", "text/html"))
        yield count, part, is_attachment


def _headers(message: Message) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for name, value in message.raw_items():
        try:
            text = str(message.policy.header_factory(name, value))  # type: ignore[attr-defined]
        except Exception:  # a header the parser cannot decode: show it as it came
            text = str(value)
        out.append((name, " ".join(text.split())))
    return tuple(out)


def _payload(part: Message) -> bytes:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return inner[0].as_bytes()
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _text(part: Message) -> str:
    raw = _payload(part)[:MAX_TEXT]
    charset = part.get_content_charset() or "utf-8"
    try:
        return raw.decode(charset, errors="replace")
    except LookupError:
        return raw.decode("utf-8", errors="replace")


def _filename(part: Message, index: int) -> str:
    try:
        name = part.get_filename()
    except Exception:  # a malformed parameter: fall back to a made-up name
        name = None
    if part.get_content_type() == "message/rfc822" and not name:
        name = "attached-message.eml"
    cleaned = "".join(ch for ch in (name or "") if ch.isprintable() and ch not in '/\\"')
    return cleaned.strip(". ")[:200] or f"part-{index}.bin"
