"""One MIME entity: its header block, its body, its type and parameters, its parts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message

from gateway.core.headers import HeaderBlock, read_header_block, uncommented

# Text a webmail shows in the body of a mixed message (unless the part has a file name).
_BODY_TEXT = frozenset({"text/plain", "text/html", "text/enriched", "text/richtext"})

_MIME_FIELDS = frozenset({"content-type", "content-disposition", "content-transfer-encoding",
                          "content-id"})
# Fields whose first word is a type (a comment or white space in it is not part of it).
_TYPED_FIELDS = frozenset({"content-type", "content-disposition"})
# Fields that only a message (not a text that happens to contain a colon) starts with.
_MESSAGE_FIELDS = frozenset({"from", "to", "cc", "subject", "date", "message-id", "received",
                             "return-path", "mime-version", "reply-to", "sender",
                             "x-stamp", "in-reply-to", "references"})


@dataclass(frozen=True, slots=True)
class Entity:
    """A message or body part: headers read by ``headers.py``, the body after the empty line."""

    block: HeaderBlock
    body: bytes
    params: Message

    @property
    def content_type(self) -> str:
        return self.params.get_content_type()

    @property
    def maintype(self) -> str:
        return self.params.get_content_maintype()

    @property
    def disposition(self) -> str:
        value = str(self.params.get("Content-Disposition") or "")
        return value.split(";", 1)[0].strip().lower()

    @property
    def transfer_encoding(self) -> str | None:
        value = self.params.get("Content-Transfer-Encoding")
        return None if value is None else str(value)

    def param(self, name: str, header: str = "content-type") -> str | None:
        """A parameter (RFC 2231 continuations joined), or None; never raises. Given both
        ways, the RFC 2231 one, as Thunderbird takes it (``param_values`` has both)."""
        values = self.param_values(name, header)
        return values[-1] if values else None

    def param_values(self, name: str, header: str = "content-type") -> list[str]:
        """Every value of a parameter given more than once (``boundary="x"; boundary*=''y``:
        clients differ in the one they take), plain ones first."""
        try:
            params = self.params.get_params(header=header) or []
        except Exception:  # a malformed RFC 2231 parameter reads as absent
            return []
        wanted = name.lower()
        found: list[str] = []
        for key, value in params[1:]:
            if key.lower() != wanted:
                continue
            text = _param_text(value)
            if text not in found:
                found.append(text)
        return found

    @property
    def listed_as_file(self) -> bool:
        """A text part some client lists as an attachment in a mixed message: one with a file
        name, or of a type webmail does not show inline (``text/csv``, ``text/x-notes``)."""
        return self.maintype == "text" and (bool(self.filename)
                                            or self.content_type not in _BODY_TEXT)

    @property
    def filename(self) -> str:
        name = self.param("filename", "content-disposition") or self.param("name") or ""
        return name.strip().lower()

    def retyped(self) -> list[Entity]:
        """The part once for each of its Content-Type fields, where it has several that
        differ, for each value of a boundary or charset given twice, or for each of several
        transfer encodings (clients differ in the one they read); else none."""
        values = self.params.get_all("Content-Type") or []
        if len(values) < 2 or len({str(v).strip().lower() for v in values}) < 2:
            written = str(values[0]).lower() if values else ""
            for name in ("boundary", "charset"):
                if written.count(name) < 2:
                    continue  # given once: one reading (the common case, found without parsing)
                given = self.param_values(name)
                if len(given) > 1:
                    kind = str(values[0]).split(";", 1)[0].strip()
                    return [self._with_type(f'{kind}; {name}="{value}"{self._rest(name)}')
                            for value in given]
            encodings = self.params.get_all("Content-Transfer-Encoding") or []
            if len({str(e).strip().lower() for e in encodings}) > 1:
                return [self._with("Content-Transfer-Encoding", str(e)) for e in encodings]
            return []
        return [self._with_type(str(value)) for value in values]

    def _rest(self, without: str) -> str:
        """The Content-Type's other parameters, written plainly."""
        rest = ""
        for key, value in (self.params.get_params() or [])[1:]:
            if key.lower() != without:
                text = _param_text(value).replace("\\", "\\\\").replace('"', '\\"')
                rest += f'; {key}="{text}"'
        return rest

    def _with_type(self, content_type: str) -> Entity:
        return self._with("Content-Type", content_type)

    def _with(self, field: str, value: str) -> Entity:
        """The part with ``field`` given once, as ``value``."""
        params = Message()
        params.set_default_type(self.params.get_default_type())
        for name, field_value in self.params.items():
            if name.lower() != field.lower():
                params[name] = field_value
        params[field] = value
        return Entity(self.block, self.body, params)

    @property
    def content_id(self) -> str:
        return str(self.params.get("Content-ID") or "").strip().strip("<>").strip()


def _param_text(value: str | tuple[str | None, str | None, str]) -> str:
    """A parameter's value; an RFC 2231 one decoded from its charset."""
    if not isinstance(value, tuple):
        return str(value).strip('"')
    try:
        return str(value[2]).encode("latin-1", "replace").decode(value[0] or "utf-8", "replace")
    except LookupError:
        return str(value[2])


def entity(data: bytes, default_type: str = "text/plain") -> Entity:
    """Read the header block of ``data`` and the MIME fields in it."""
    block = read_header_block(data)
    params = Message()
    params.set_default_type(default_type)
    for line in block.fields:
        name = line.name.lower()
        if name in _MIME_FIELDS:
            value = line.value
            if name in _TYPED_FIELDS:
                # The type as a client reads it: "text/html (plain)", "text / html" and
                # a quoted "text/html" are HTML.
                # So are its parameters, without their comments (RFC 2045 allows them
                # anywhere): "; (c) charset=utf-7", "charset=utf-8 (Plain text)".
                kind, sep, rest = value.partition(";")
                value = "".join(uncommented(kind).split()).strip('"') + sep + uncommented(rest)
            params[line.name] = value
    return Entity(block, data[block.body_start:], params)


def split_parts(body: bytes, boundary: str, limit: int) -> list[bytes] | None:
    """The parts between ``--boundary`` lines (at most ``limit``), or None if there are none.

    A delimiter line is the boundary after two hyphens, then optional white space (RFC 2046
    5.1.1); the line break before it belongs to the delimiter. A missing close delimiter
    ends the last part at the end of the body, as clients read it.
    """
    parts: list[bytes] = []
    start: int | None = None
    for begin, end, close in delimiters(body, boundary.encode("utf-8", "surrogateescape")):
        if start is not None:
            cut = begin
            cut -= 2 if body[cut - 2:cut] == b"\r\n" else 1 if body[cut - 1:cut] == b"\n" else 0
            parts.append(body[start:max(start, cut)])
            if len(parts) >= limit:
                return parts
        if close:
            return parts
        newline = body.find(b"\n", end)
        start = len(body) if newline < 0 else newline + 1
    if start is None:
        return None
    parts.append(body[start:])
    return parts


# Candidates that ``bytes.find`` may turn up without being delimiters before the pattern
# searches the rest of the body instead (a body of lines that almost match the boundary).
FIND_MISSES = 32


def delimiters(body: bytes, token: bytes) -> Iterator[tuple[int, int, bool]]:
    """Each delimiter line of ``token``: where it starts, where its line break is, and
    whether it closes (``--token--``).

    What ``^--token(--)?[ \t]*\r?$`` finds in multi-line mode. That pattern starts with no
    literal, so the regex engine tried it at every line of a large body; the same pattern
    after a line break starts with ``\n--token``. ``bytes.find`` finds that string several
    times faster than the regex engine (a megabyte of base64 between two delimiters), and
    the pattern checks each place it finds; after ``FIND_MISSES`` places that are not
    delimiters, the pattern searches the rest itself, so lines that almost match cost no
    Python work each.
    """
    rest = re.escape(token) + rb"(--)?[ \t]*\r?(?=\n|\Z)"
    first = re.compile(rb"--" + rest).match(body)
    if first is not None:
        yield 0, first.end(), first.group(1) is not None
    pattern = re.compile(rb"\n--" + rest)
    prefix = b"\n--" + token
    at = misses = 0
    while misses < FIND_MISSES:
        at = body.find(prefix, at)
        if at < 0:
            return
        found = pattern.match(body, at)
        if found is None:
            misses += 1
            at += 1
            continue
        yield found.start() + 1, found.end(), found.group(1) is not None
        at = found.end()
    for found in pattern.finditer(body, at):
        yield found.start() + 1, found.end(), found.group(1) is not None


def looks_like_message(data: bytes) -> bool:
    """A header block with a field only messages have, then the empty line: an .eml file."""
    block = read_header_block(data)
    if block.ambiguous is not None or block.body_start == block.end:
        return False
    return any(line.name.lower() in _MESSAGE_FIELDS for line in block.fields)
