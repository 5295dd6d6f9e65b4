"""Walk the bytes of a message into the facts a decision needs (no I/O, never raises)."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import replace
from email.utils import getaddresses

from gateway.core import charsets
from gateway.core.bidi import RLO, visual_order
from gateway.core.documents import DEFAULT_LIMITS, DocumentLimits
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
# RFC 2047 encoded words: =?charset?Q|B?payload?=
_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,80})\?([qQbB])\?([^?\s]*)\?=")
_Q_HEX = re.compile(rb"=([0-9A-Fa-f]{2})")
# As lenient decoders take them: white space inside the payload (never past a line).
_LOOSE_WORD = re.compile(r"=\?([^?\s]{1,80})\?([qQbB])\?([^?\n]{0,2000}?)\?=")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/]")
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
               *_keywords(headers.get("keywords", []))),
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
    raw = [v.encode("utf-8", "surrogateescape") for v in values if not v.isascii()]
    raw = [r for r in raw if charsets.guess(r) != r.decode("utf-8", "replace")]
    if not raw:
        return []
    labels = dict.fromkeys(m.decode("ascii", "replace").lower()
                           for m in _CHARSET_PARAM.findall(head))
    out = [charsets.decode(r, label).text for label in list(labels)[:MAX_OWN_CHARSETS]
           for r in raw]
    return [" ".join(text.split()) for text in dict.fromkeys(out)]


def _in_locales(value: str) -> list[str]:
    """A raw 8-bit Subject that is not UTF-8 in each locale charset a client may take for
    raw header bytes (its user's, as Thunderbird's fallback and Outlook's code page)."""
    if value.isascii():
        return []
    raw = value.encode("utf-8", "surrogateescape")
    if charsets.guess(raw) == raw.decode("utf-8", "replace"):
        return []
    return list(dict.fromkeys(" ".join(raw.decode(codec, "replace").split())
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
    """A header value decoded, and as lenient decoders show its encoded words if other."""
    text = header_text(value)
    loose = header_text(value, loose=True) if "=?" in value else text
    return [text] if loose == text else [text, loose]


def _drawn_subjects(values: list[str]) -> list[str]:
    """Subjects as some client draws them, read for stricter stamps only, like the flags:
    encoded words in UTF-16 or UTF-32 without a byte-order mark big-endian (Apple Mail; the
    Encoding Standard reads them little-endian); each line of a Subject that breaks (a line
    feed in an encoded word, U+2028); letters a bidi override reverses in the order drawn;
    letters read by their shape (``core/shapes.py``); raw 8-bit in the locale charsets."""
    out: list[str] = []
    for value in values:
        text = _decoded(value)
        flat = " ".join(text.split())
        if "=?" in value:
            out.extend(drawn for drawn in (header_text(value, wide=True),
                                           header_text(value, loose=True)) if drawn != flat)
        lines = [" ".join(line.split()) for line in _LINE_BREAKS.split(text)]
        out.extend(line for line in lines if line and len(lines) > 1)
        if RLO in flat:
            out.append(visual_order(flat))
        if (shape := shaped(flat)) is not None and fold(shape) != fold(flat):
            out.append(shape)  # (not when the folding reads it so already: ТLP:RЕD)
        out.extend(_in_locales(value))
    return out


def header_text(value: object, *, wide: bool = False, loose: bool = False) -> str:
    """A header value decoded from RFC 2047 and raw 8-bit (UTF-8, else Windows-1252).

    Encoded-words name their charset with the labels mail clients resolve (``charsets.py``).
    The text around them stays as written (``=?utf-8?q?Case_12?= – Confidential``): the
    standard library's ``decode_header`` turns such text beyond Latin-1 into ``\\u2013``.
    With ``wide``, UTF-16 and UTF-32 without a byte-order mark are read big-endian. With
    ``loose``, as lenient decoders read them (``_loose``).
    """
    return " ".join(_decoded(value, wide, loose).split())


def _decoded(value: object, wide: bool = False, loose: bool = False) -> str:
    """``header_text`` before its white space is collapsed (line breaks kept)."""
    if not isinstance(value, str):
        value = str(value)
    text = charsets.guess(value.encode("utf-8", "surrogateescape"))
    if "=?" not in text:
        return text
    if loose:
        return _loose(text)
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
        out.append(shown if shown is not None else charsets.decode(data, label).text)
        position, after_word = match.end(), True
    out.append(text[position:])
    return "".join(out)


def _loose(text: str) -> str:
    """Encoded words as lenient decoders (Thunderbird, Python's ``email``, webmail) show
    them: the bytes of adjacent words in one charset decoded together (a character split
    between two words is one character), base64 read past white space and a bad tail, and
    a label the Encoding Standard decodes as U+FFFD (HZ) with Python's codec (Outlook)."""
    out: list[str] = []
    run: list[bytes] = []
    run_label = ""
    position = 0
    after_word = False

    def flush() -> None:
        if run:
            data = b"".join(run)
            shown = charsets.codepage_reading(data, run_label)
            out.append(shown if shown is not None else charsets.decode(data, run_label).text)
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
            out.append(between)
        run.append(data)
        run_label, position, after_word = label, match.end(), True
    flush()
    out.append(text[position:])
    return "".join(out)


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
