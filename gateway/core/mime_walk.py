"""Walk a MIME tree the way mail clients display it (RFC 2046, 2387, 6532)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from gateway.core import charsets, transfer
from gateway.core.attachments import (
    NOT_WHAT_IT_SAYS,
    SNIFF_CHARS,
    is_document,
    not_what_it_says,
    read_attachment,
    sniff,
)
from gateway.core.documents import (
    DEFAULT_LIMITS,
    TEXT_EXTENSIONS,
    Document,
    DocumentLimits,
    extension,
    shown_name,
)
from gateway.core.enriched import ENRICHED_TYPES, unenriched
from gateway.core.facts import MessageFacts, TextPart
from gateway.core.flowed import delsp_readings, is_flowed, reflow
from gateway.core.html_text import candidates
from gateway.core.invite import shown_invite
from gateway.core.mime_entity import Entity, entity, looks_like_message, split_parts
from gateway.core.model import Location
from gateway.core.rendering import Rendering, drawn, joined

MAX_DEPTH = 5
MAX_PARTS = 500
# Multiparts inside multiparts; a client gives up long before (and so does the stack).
MAX_NESTING = 32
# Leading white space stays on its line: ``\s*`` after ``^`` would rescan runs of blank lines.
_PGP_MESSAGE = re.compile(r"^[^\S\n]*-----BEGIN PGP MESSAGE-----", re.MULTILINE)
# A clear-signed body is readable; its armour header stands between the reader and the stamp.
_CLEARSIGNED = re.compile(r"^[^\S\n]*-----BEGIN PGP SIGNED MESSAGE-----[^\n]*\n", re.MULTILINE)
_ARMOUR_HEADERS = re.compile(r"(?:[ \t]*\S[^\n]*\n)*?[ \t]*\n")
# In every line _PGP_MESSAGE and _CLEARSIGNED find: a plain search before their regex scans.
_ARMOUR = "-----BEGIN PGP "
_ENCRYPTED_TYPES = frozenset({
    "multipart/encrypted", "application/pkcs7-mime", "application/x-pkcs7-mime",
    "application/pgp-encrypted",
})
# message/news is an old name Thunderbird still shows like message/rfc822.
_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global", "message/news"})
# Reports a client shows as the text they are.
_SHOWN_AS_TEXT = frozenset({
    "message/delivery-status", "message/disposition-notification",
    "message/global-delivery-status", "message/global-disposition-notification",
    "message/feedback-report",
})
SVG = "image/svg+xml"
# Part types a client shows in the body of a multipart/mixed (the rest are attachments).
_INLINE_MAINTYPES = frozenset({"text", "multipart", "message"})

# Reads the bytes of an attached message at the given depth.
ReadAttached = Callable[[bytes, int], MessageFacts]


class Walker:
    """Collects every displayed text (each part, and the parts in display order joined),
    the attached messages and content, and what could not be read."""

    def __init__(self, depth: int, read_attached: ReadAttached,
                 limits: DocumentLimits = DEFAULT_LIMITS,
                 deferred: list[str] | None = None) -> None:
        self.depth = depth
        self.read_attached = read_attached
        self.limits = limits
        # The first pass: attached documents are told apart by their first bytes, but not
        # decoded or read; their names are listed here instead (docs/reading.md, section 9).
        self.deferred = deferred
        self.texts: list[TextPart] = []
        self.attached: list[MessageFacts] = []
        self.documents: list[Document] = []
        self.unreadable: list[str] = []
        self.defects: list[str] = []
        self.parts = 0

    def walk(self, root: Entity) -> None:
        """Read ``root`` as the body of a message."""
        for location, text, shown in self.display(root, 0):
            part = TextPart(location, text, shown)
            if part in self.texts:
                continue
            twin = TextPart(location, text, not shown)
            if twin in self.texts:  # the same text both ways: a rendering a reader sees
                self.texts[self.texts.index(twin)] = TextPart(location, text, True)
            else:
                self.texts.append(part)

    def display(self, part: Entity, nesting: int) -> list[Rendering]:
        """What a client shows for ``part`` in the message body: one or more renderings."""
        if not self._enter(part, nesting):
            return []
        retyped = part.retyped()
        if retyped:  # two Content-Type fields: each is how some client shows it
            return [r for one in retyped for r in self.display(one, nesting + 1)]
        ctype = part.content_type
        if ctype in _ENCRYPTED_TYPES:
            self.unreadable.append(f"encrypted body ({ctype})")
            return []
        if part.maintype == "multipart":
            return self._multipart(part, ctype, nesting)
        if ctype in _MESSAGE_TYPES:
            self._message(part)
            return []
        if part.maintype == "text" or ctype in _SHOWN_AS_TEXT:
            return self._leaf(part, own=True)
        self.aside(part, nesting)
        return []

    def _multipart(self, part: Entity, ctype: str, nesting: int) -> list[Rendering]:
        default = "message/rfc822" if ctype == "multipart/digest" else "text/plain"
        children = self._children(part, default)
        if children is None:
            return []
        if ctype == "multipart/alternative":
            if not children:
                self.unreadable.append("empty multipart/alternative")
            # Clients differ in the alternative they show: every one is a candidate (a
            # calendar or card, which they show as an invite or a contact, for stricter stamps).
            return [(loc, text, whole and not child.listed_as_file) for child in children
                    for loc, text, whole in self.display(child, nesting + 1)]
        if not children:
            self.unreadable.append(f"{ctype} without parts")
            return []
        if ctype == "multipart/signed":
            return self.display(children[0], nesting + 1)
        if ctype == "multipart/related":
            root = self._related_root(part, children)
            for child in children:
                if child is not root:
                    self.aside(child, nesting + 1)
            return self.display(root, nesting + 1)
        # mixed, and any subtype a client does not know: every inline part, in order.
        shown: list[list[Rendering]] = []
        for child in children:
            if child.content_type == SVG and child.disposition != "attachment":
                # An SVG image shown in the body draws its text: read for stricter stamps.
                drawn = self._drawing(child)
                if drawn:
                    shown.append(drawn)
            elif child.disposition == "attachment" or child.maintype not in _INLINE_MAINTYPES:
                self.aside(child, nesting + 1)
            elif renderings := self.display(child, nesting + 1):
                if child.listed_as_file:  # some client lists it: for stricter stamps only
                    renderings = [(location, text, False) for location, text, _ in renderings]
                shown.append(renderings)
        return joined(shown)

    @staticmethod
    def _related_root(part: Entity, children: list[Entity]) -> Entity:
        start = (part.param("start") or "").strip().strip("<>").strip()
        if start:
            for child in children:
                if child.content_id == start:
                    return child
        return children[0]

    def aside(self, part: Entity, nesting: int) -> None:
        """A part not shown in the body: attached messages and text still count (embedded)."""
        if not self._enter(part, nesting):
            return
        ctype = part.content_type
        name = part.filename
        if ctype in _ENCRYPTED_TYPES:
            self.unreadable.append(f"encrypted part ({ctype})")
        elif ctype in _MESSAGE_TYPES or name.endswith(".eml"):
            self._message(part)
        elif part.maintype == "multipart":
            for child in self._children(part, "text/plain") or []:
                self.aside(child, nesting + 1)
        elif ctype != "text/rtf" and (part.maintype == "text"
                                      or extension(name) in TEXT_EXTENSIONS):
            self._attached_text(part)
        elif is_document(name, ctype):
            self._document(part)

    def _document(self, part: Entity) -> None:
        """An attached file: the readers of ``attachments.py`` say what it holds."""
        if len(self.documents) >= self.limits.max_documents:
            return
        name = shown_name(part.filename) or f"unnamed {part.content_type} attachment"
        # The first bytes say whether it is a document at all: pictures and other files
        # sent as application/* are not decoded further.
        head = transfer.undo(part.body[:SNIFF_CHARS], transfer.encoding_of(
            part.transfer_encoding))
        kind = sniff(name, head.data)
        if kind is None:
            return
        if kind == NOT_WHAT_IT_SAYS:
            self.documents.append(not_what_it_says(name))
            return
        if self.deferred is not None:
            self.deferred.append(name)
            return
        undone = self._undo(part)
        if undone is None:
            return
        self.documents.extend(read_attachment(name, undone.data, self.limits))

    def _attached_text(self, part: Entity) -> None:
        """A text attachment: an .eml in disguise is a message, anything else attached content."""
        undone = self._undo(part)
        if undone is None:
            return
        if looks_like_message(undone.data):
            self._attach_bytes(undone.data, part.filename)
            return
        texts = tuple(TextPart(loc, text, shown)
                      for loc, text, shown in self._leaf(part, own=False))
        if texts:
            self.attached.append(MessageFacts(top_texts=texts, name=shown_name(part.filename)))

    def _message(self, part: Entity) -> None:
        undone = self._undo(part)
        if undone is not None:
            self._attach_bytes(undone.data, part.filename)

    def _attach_bytes(self, data: bytes, name: str) -> None:
        if self.depth + 1 > MAX_DEPTH:
            self.unreadable.append(f"messages nested deeper than {MAX_DEPTH}")
            return
        facts = self.read_attached(data, self.depth + 1)
        self.attached.append(replace(facts, name=shown_name(name)) if name else facts)

    def _enter(self, part: Entity, nesting: int) -> bool:
        if nesting > MAX_NESTING:
            self.unreadable.append(f"MIME parts nested deeper than {MAX_NESTING}")
            return False
        if nesting and part.block.ambiguous is not None:
            self.unreadable.append(f"broken MIME: part headers with {part.block.ambiguous}")
        return True

    def _children(self, part: Entity, default_type: str) -> list[Entity] | None:
        boundary = part.param("boundary")
        if not boundary:
            self.unreadable.append("broken MIME: NoBoundaryInMultipartDefect")
            return None
        room = max(MAX_PARTS - self.parts, 0) + 1
        bodies = split_parts(part.body, boundary, room)
        if bodies is None:
            self.unreadable.append("broken MIME: StartBoundaryNotFoundDefect")
            return None
        self.parts += len(bodies)
        if self.parts > MAX_PARTS:
            self.unreadable.append(f"more than {MAX_PARTS} MIME parts")
            bodies = bodies[:max(len(bodies) - (self.parts - MAX_PARTS), 0)]
        return [entity(body, default_type) for body in bodies]

    def _undo(self, part: Entity) -> transfer.Undone | None:
        undone = transfer.undo(part.body, transfer.encoding_of(part.transfer_encoding))
        self.defects.extend(undone.defects)
        if undone.unreadable is not None:
            self.unreadable.append(undone.unreadable)
            return None
        return undone

    def _leaf(self, part: Entity, own: bool) -> list[Rendering]:
        """The renderings of one text part: every decoding a client may show."""
        undone = self._undo(part)
        if undone is None:
            return []
        payloads = [undone.data] if undone.alternative is None else [undone.data,
                                                                     undone.alternative]
        label = part.param("charset")
        # text/html and its kin (text/watch-html, text/x-amp-html) are HTML to whoever shows them.
        html = part.content_type.startswith("text/") and part.content_type.endswith("html")
        enriched = part.content_type if part.content_type in ENRICHED_TYPES else None
        flowed = part.content_type == "text/plain" and is_flowed(part.param_values("format"))
        delsp = delsp_readings(part.param_values("delsp")) if flowed else (False,)
        out: list[Rendering] = []
        for payload in payloads:
            decoded = (charsets.decode_html(payload, label) if html
                       else charsets.decode(payload, label))
            if decoded.unreadable is not None:
                self.unreadable.append(decoded.unreadable)
            for decoding in (decoded.text, decoded.other):
                if decoding is not None:
                    if enriched is not None:  # as shown; as written, for stricter stamps
                        self._add(out, unenriched(decoding, enriched == "text/richtext"),
                                  html, own, flowed, delsp)
                    self._add(out, decoding, html, own, flowed, delsp, enriched is None)
                    if (invite := shown_invite(part.content_type, decoding)) is not None:
                        self._add(out, invite, html, own, flowed, delsp, False)
            for reading in charsets.locale_readings(payload, label, html,  # stricter only
                                                    decoded.text):
                self._add(out, reading, html, own, flowed, delsp, False)
        return out

    def _add(self, out: list[Rendering], decoded: str, html: bool, own: bool, flowed: bool,
             delsp: tuple[bool, ...], whole: bool = True) -> None:
        """The renderings of one decoded text, each added to ``out`` once (none of them a
        whole rendering unless ``whole``)."""
        text = decoded.replace("\r\n", "\n").replace("\r", "\n")
        # Unflowed, a flowed text's lines are as the sender's client wrapped them (a stamp
        # over two lines): read for stricter stamps, not a rendering of its own.
        texts = ([*((reflow(text, d), whole) for d in delsp), (text, False)] if flowed
                 else [(text, whole)])
        for candidate, entire in texts:
            for location, seen, shown in self._text(candidate, html, own):
                rendering = (location, seen, shown and entire)
                if rendering not in out:
                    out.append(rendering)

    def _drawing(self, part: Entity) -> list[Rendering]:
        """The text an SVG image draws (its markup read as a browser reads inline SVG),
        none of it a whole rendering of the message."""
        undone = self._undo(part)
        if undone is None:
            return []
        text = charsets.decode(undone.data, part.param("charset")).text
        return [(location, seen, False) for location, seen, _ in self._text(text, True, True)
                if seen.strip()]

    def _text(self, text: str, html: bool, own: bool) -> list[Rendering]:
        """What a reader may see of one decoded text: HTML has several plausible views."""
        if not html:
            views = [(text, True)]
            location = Location.BODY
        else:
            views = [(view.replace("\r\n", "\n").replace("\r", "\n"), shown)
                     for view, shown in candidates(text)]
            location = Location.HTML
        return [self._rendering(location, view, own, shown) for view, shown in drawn(views)]

    def _rendering(self, location: Location, text: str, own: bool, shown: bool) -> Rendering:
        if _ARMOUR not in text:
            return location, text, shown
        if _PGP_MESSAGE.search(text):
            self.unreadable.append("PGP-encrypted body" if own else "PGP-encrypted part")
        return location, _without_armour(text), shown


def _without_armour(text: str) -> str:
    """The text without the first clear-signed armour line and its armour headers."""
    begin = _CLEARSIGNED.search(text)
    if begin is None:
        return text
    headers = _ARMOUR_HEADERS.match(text, begin.end())
    if headers is None:
        return text
    return text[:begin.start()] + text[headers.end():]
