"""Walk the bytes of a message into the facts a decision needs (no I/O, never raises)."""

from __future__ import annotations

import re
from dataclasses import replace
from email.utils import getaddresses

from gateway.core import charsets
from gateway.core.bidi import RLO, visual_order
from gateway.core.documents import DEFAULT_LIMITS, DocumentLimits
from gateway.core.encoded_words import DETECTED_CHARS, decoded, header_text, loose
from gateway.core.facts import MessageFacts, TextPart
from gateway.core.headers import MAX_FIELDS, HeaderBlock, uncommented
from gateway.core.label_reading import GATEWAY_LABEL_HEADERS, header_labels
from gateway.core.labels import Label, msip_header
from gateway.core.mime_entity import entity
from gateway.core.mime_walk import MAX_DEPTH, MAX_PARTS, Walker
from gateway.core.model import Location
from gateway.core.shapes import shaped
from gateway.core.text import fold

__all__ = ["MAX_DEPTH", "MAX_PARTS", "MessageFacts", "TextPart", "header_text", "read_message",
           "thread_ids"]

_MSGID = re.compile(r"<[^<>\s]{1,998}>")
_EMPTY_LINE = re.compile(rb"\n\r?\n")
# Where a client may break a Subject's line (decoded from an encoded word, or raw).
_LINE_BREAKS = re.compile(r"[\n\r\x0b\x0c\x85\u2028\u2029]")
# Values of one label header decoded; a real message has one.
MAX_LABEL_VALUES = 20
# Subject fields read (a real message has one; each more is read, up to this many).
MAX_SUBJECTS = 20
# Keywords read (Outlook's categories; a real message has a few).
MAX_KEYWORDS = 50
# The charsets a message names (charset= anywhere in its first bytes), for a raw Subject.
_CHARSET_PARAM = re.compile(rb"""(?i)charset\s*=\s*["']?([A-Za-z0-9._:-]{1,40})""")
_CHARSET_SCAN = 65536
MAX_OWN_CHARSETS = 4


def read_message(data: bytes, limits: DocumentLimits = DEFAULT_LIMITS, *,
                 defer_documents: bool = False) -> MessageFacts:
    """Read raw message bytes; anything that cannot be read is listed in ``unreadable``.

    ``limits`` bound the reading of attached documents. With ``defer_documents`` (the first
    pass) attached documents, in the message and in the messages attached to it, are not
    read: their names are listed in ``unread``, and everything else is read as in full.
    """
    deferred: list[str] | None = [] if defer_documents else None
    facts = _read(data, 0, limits, deferred)
    return replace(facts, unread=tuple(deferred)) if deferred else facts


def thread_ids(block: HeaderBlock) -> tuple[str, ...]:
    """``MessageFacts.thread_ids`` from the header block alone, before the message is read."""
    headers = block.by_name()
    return MessageFacts(in_reply_to=_ids(headers.get("in-reply-to", [])),
                        references=_ids(headers.get("references", []))).thread_ids


def _read(data: bytes, depth: int, limits: DocumentLimits,
          deferred: list[str] | None) -> MessageFacts:
    try:
        root = entity(data)
    except Exception as exc:  # the last resort: a reader bug must fail closed, not crash
        return MessageFacts(unreadable=(f"message could not be parsed ({type(exc).__name__})",),
                            failed=True)
    walker = Walker(depth, lambda inner, level: _read(inner, level, limits, deferred), limits,
                    deferred)
    if root.block.ambiguous is not None:
        walker.unreadable.append(f"ambiguous end of the header block: {root.block.ambiguous}")
    if len(root.block.lines) > MAX_FIELDS:
        walker.unreadable.append(f"more than {MAX_FIELDS} header fields")
    failed = False
    try:
        walker.walk(root)
    except Exception as exc:  # a malformed tree must fail closed, not crash the gateway
        walker.unreadable.append(f"MIME structure could not be walked ({type(exc).__name__})")
        failed = True
    if root.block.headless:
        walker.texts.extend(_after_junk(data))
    headers = root.block.by_name()
    label_headers, label_problems = header_labels(
        {name: [header_text(v) for v in headers[name][:MAX_LABEL_VALUES]]
         for name in GATEWAY_LABEL_HEADERS if name in headers})
    walker.unreadable.extend(label_problems)
    subjects = headers.get("subject", [])[:MAX_SUBJECTS]
    return MessageFacts(
        subject=header_text((subjects or [""])[0]),
        other_subjects=(*(header_text(v) for v in subjects[1:]),
                        *_in_own_charsets(subjects, data[:root.block.end or _CHARSET_SCAN])),
        x_stamps=tuple(header_text(v) for v in headers.get("x-stamp", [])),
        flags=(*_sensitivity(headers.get("sensitivity", [])),
               *(text for name in ("x-message-flag", "thread-topic")
                 for v in headers.get(name, [])[:MAX_SUBJECTS] for text in _both(v)),
               *_drawn_subjects(subjects),
               *_keywords(headers.get("keywords", [])),
               *_loose_only(headers.get("x-stamp", []))),
        from_addresses=_addresses(headers.get("from", [])),
        message_id=_first_id(headers.get("message-id", [])),
        in_reply_to=_ids(headers.get("in-reply-to", [])),
        references=_ids(headers.get("references", [])),
        top_texts=tuple(walker.texts),
        attached=tuple(walker.attached),
        documents=tuple(walker.documents),
        labels=_labels(headers.get("msip_labels", [])),
        label_headers=label_headers,
        unreadable=tuple(walker.unreadable),
        defects=tuple(dict.fromkeys(walker.defects)),
        header_end=root.block.end,
        ambiguous_headers=root.block.ambiguous,
        failed=failed,
    )


def _after_junk(data: bytes) -> list[TextPart]:
    """A client that skips lines that are not fields shows the text after the empty line."""
    found = _EMPTY_LINE.search(data)
    if found is None:
        return []
    text = charsets.guess(data[found.end():]).replace("\r\n", "\n").replace("\r", "\n")
    return [TextPart(Location.BODY, text)]


def _in_own_charsets(values: list[str], head: bytes) -> list[str]:
    """Raw 8-bit Subjects that are not UTF-8, decoded with the charsets the message names (a
    Russian client's windows-1251 Subject shows as Cyrillic there, not as windows-1252)."""
    raw = [r for v in values if (r := _raw_8bit(v)) is not None]
    if not raw:
        return []
    labels = dict.fromkeys(m.decode("ascii", "replace").lower()
                           for m in _CHARSET_PARAM.findall(head))
    out = [charsets.decode(r, label).text for label in list(labels)[:MAX_OWN_CHARSETS]
           for r in raw]
    return [" ".join(text.split()) for text in dict.fromkeys(out)]


def _raw_8bit(value: str) -> bytes | None:
    """The bytes of a header value written in raw 8-bit that is not UTF-8; None otherwise."""
    if value.isascii():
        return None
    raw = value.encode("utf-8", "surrogateescape")
    return None if charsets.guess(raw) == raw.decode("utf-8", "replace") else raw


def _in_locales(value: str) -> list[str]:
    """A raw 8-bit header value that is not UTF-8 (its beginning) in each locale charset a
    client may take for raw header bytes (its user's: Thunderbird's fallback charset,
    Outlook's code page)."""
    raw = _raw_8bit(value)
    if raw is None:
        return []
    head = raw[:DETECTED_CHARS]  # its beginning
    return list(dict.fromkeys(" ".join(head.decode(codec, "replace").split())
                              for codec in charsets.LOCALE_CHARSETS))


def _sensitivity(values: list[str]) -> list[str]:
    """Outlook's ``Sensitivity: Company-Confidential``, shown above the message as "Please
    treat this as Confidential": a Confidential stamp above every rendering (a comment or
    quotes around the value do not change it)."""
    return ["Confidential" for value in values
            if "".join(uncommented(value).replace('"', "").split()).lower()
            == "company-confidential"][:1]


def _keywords(values: list[str]) -> list[str]:
    """``Keywords``, which Outlook shows above the message as its categories: each one a
    tag of its own."""
    found = [word.strip() for value in values[:MAX_SUBJECTS] for text in _both(value)
             for word in text.split(",")]
    return [word for word in found if word][:MAX_KEYWORDS]


def _both(value: str) -> list[str]:
    """A header value decoded, and as lenient decoders show its encoded words, and its raw
    8-bit in the locale charsets, where other."""
    text = header_text(value)
    return list(dict.fromkeys([text, *loose(value), *_in_locales(value)]))


def _loose_only(values: list[str]) -> list[str]:
    """``X-Stamp`` values as lenient decoders show their encoded words, where other than
    as read (``=?cp037?...?=``): read for stricter stamps, like the flags."""
    return [other for value in values[:MAX_SUBJECTS] if "=?" in value
            for other in loose(value) if other != header_text(value)]


def _drawn_subjects(values: list[str]) -> list[str]:
    """Subjects as some client draws them, read for stricter stamps only, like the flags:
    encoded words in UTF-16 or UTF-32 without a byte-order mark big-endian (Apple Mail; the
    Encoding Standard reads them little-endian); each line of a Subject that breaks (a line
    feed in an encoded word, U+2028); letters a bidi override reverses in the order drawn;
    letters read by their shape (``core/shapes.py``); raw 8-bit in the locale charsets."""
    out: list[str] = []
    for value in values:
        text = decoded(value)
        flat = " ".join(text.split())
        if "=?" in value:
            drawn = [header_text(value, wide=True), *loose(value)]
            out.extend(other for other in dict.fromkeys(drawn) if other != flat)
        lines = [" ".join(line.split()) for line in _LINE_BREAKS.split(text)]
        out.extend(line for line in lines if line and len(lines) > 1)
        if RLO in flat:
            out.append(visual_order(flat))
        if (shape := shaped(flat)) is not None and fold(shape) != fold(flat):
            out.append(shape)  # (not when the folding reads it so already: ТLP:RЕD)
        out.extend(_in_locales(value))
    return out


def _addresses(values: list[str]) -> tuple[str, ...]:
    try:
        pairs = getaddresses([header_text(v) for v in values])
    except Exception:
        return ()
    return tuple(addr.strip().lower() for _, addr in pairs if "@" in addr)


def _labels(values: list[str]) -> tuple[Label, ...]:
    found: list[Label] = []
    for value in values:
        found.extend(msip_header(header_text(value)))
    return tuple(dict.fromkeys(found))


def _ids(values: list[str]) -> tuple[str, ...]:
    found: list[str] = []
    for value in values:
        found.extend(_MSGID.findall(str(value)))
    return tuple(dict.fromkeys(found))


def _first_id(values: list[str]) -> str | None:
    ids = _ids(values[:1])
    return ids[0] if ids else None
