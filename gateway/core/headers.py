"""One reading of a header block: its fields, and where the body begins (RFC 5322 section 4)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

# A field: a printable-ASCII name, optional white space before the colon (obsolete syntax),
# the value, then any folded continuation lines. Every alternative starts with a different
# class of byte, so the match never backtracks more than the length of one field name.
_FIELD = rb"[!-9;-~]+[ \t]*:[^\n]*(?:\n|\Z)(?:[ \t][^\n]*(?:\n|\Z))*"
_FIELDS = re.compile(rb"(?:" + _FIELD + rb")*")
_ONE_FIELD = re.compile(_FIELD)
_NAME = re.compile(rb"([!-9;-~]+)[ \t]*:")
# A line that is not a field: it runs to its line break, with its own continuation lines.
_STRAY = re.compile(rb"[^\n]*(?:\n|\Z)(?:[ \t][^\n]*(?:\n|\Z))*")
_ENVELOPE = re.compile(rb"From [^\n]*\n")
_BLANK = re.compile(rb"\r?\n")
_NEXT_BLANK = re.compile(rb"\n\r?\n")
_FOLD = re.compile(rb"\r?\n(?=[ \t])")
# Real header blocks have a few hundred fields; past these, reading stops (fails closed).
MAX_FIELDS = 5000
MAX_STRAY_LINES = 100


class LineKind(enum.Enum):
    """What one line (with its continuation lines) of a header block is."""

    FIELD = "field"
    ENVELOPE = "envelope"  # an mbox "From " line, accepted only as the very first line
    STRAY = "stray"  # neither a field, a continuation nor the blank separator


@dataclass(frozen=True, slots=True)
class HeaderLine:
    """One field (or stray line) as received, with its line breaks."""

    kind: LineKind
    raw: bytes
    name: str = ""

    @property
    def value(self) -> str:
        """The unfolded value, raw 8-bit bytes kept as surrogate escapes."""
        if self.kind is not LineKind.FIELD:
            return ""
        value = self.raw.split(b":", 1)[1]
        value = _FOLD.sub(b"", value).rstrip(b"\r\n")
        return value.decode("utf-8", "surrogateescape").strip(" \t")


@dataclass(frozen=True, slots=True)
class HeaderBlock:
    """A header block and the offsets of its end and of the body after the blank line."""

    lines: tuple[HeaderLine, ...]
    end: int
    body_start: int
    ambiguous: str | None = None

    @property
    def fields(self) -> tuple[HeaderLine, ...]:
        return tuple(line for line in self.lines if line.kind is LineKind.FIELD)

    def get_all(self, name: str) -> list[str]:
        """Every value of the fields called ``name`` (case-insensitive), in order."""
        wanted = name.lower()
        return [line.value for line in self.lines
                if line.kind is LineKind.FIELD and line.name.lower() == wanted]

    def by_name(self) -> dict[str, list[str]]:
        """Every value, by lower-case field name."""
        found: dict[str, list[str]] = {}
        for line in self.fields:
            found.setdefault(line.name.lower(), []).append(line.value)
        return found


class AmbiguousHeaders(Exception):
    """Where the header block ends depends on how a client reads a line that is not a field."""


def read_header_block(data: bytes) -> HeaderBlock:
    """Split ``data`` into header lines and body the way a lenient mail client does.

    The block ends at the first empty line (LF or CRLF), or at the end of the data. A line
    that is neither a field, a continuation nor that empty line makes the end ambiguous
    (clients differ: some end the block there, some skip the line), and ``ambiguous`` says
    why; the reading then skips it, so the fields after it still count.
    """
    lines: list[HeaderLine] = []
    pos = 0
    envelope = _ENVELOPE.match(data)
    if envelope is not None:
        lines.append(HeaderLine(LineKind.ENVELOPE, envelope.group(0)))
        pos = envelope.end()
    ambiguous: str | None = None
    strays = 0
    while True:
        block = _FIELDS.match(data, pos)
        assert block is not None  # the pattern matches the empty string
        _collect(data, pos, block.end(), lines)
        pos = block.end()
        if pos >= len(data):
            return HeaderBlock(tuple(lines), pos, pos, ambiguous)
        blank = _BLANK.match(data, pos)
        if blank is not None:
            return HeaderBlock(tuple(lines), pos, blank.end(), ambiguous)
        stray = _STRAY.match(data, pos)
        assert stray is not None
        ambiguous = ambiguous or _why(stray.group(0), not lines)
        lines.append(HeaderLine(LineKind.STRAY, stray.group(0)))
        pos = stray.end()
        strays += 1
        if strays >= MAX_STRAY_LINES or len(lines) > MAX_FIELDS:
            return _give_up(data, pos, lines, "too many lines that are not header fields")


def _collect(data: bytes, start: int, end: int, lines: list[HeaderLine]) -> None:
    if start == end or len(lines) > MAX_FIELDS:
        return
    for match in _ONE_FIELD.finditer(data, start, end):
        raw = match.group(0)
        name = _NAME.match(raw)
        assert name is not None
        lines.append(HeaderLine(LineKind.FIELD, raw, name.group(1).decode("ascii")))
        if len(lines) > MAX_FIELDS:
            return


def _give_up(data: bytes, pos: int, lines: list[HeaderLine], why: str) -> HeaderBlock:
    """Stop reading fields; the body still begins after the next empty line."""
    if data[pos:pos + 1] == b"\n" or data[pos:pos + 2] == b"\r\n":
        blank = _BLANK.match(data, pos)
        assert blank is not None
        return HeaderBlock(tuple(lines), pos, blank.end(), why)
    found = _NEXT_BLANK.search(data, pos)
    if found is None:
        return HeaderBlock(tuple(lines), len(data), len(data), why)
    return HeaderBlock(tuple(lines), found.start() + 1, found.end(), why)


def _why(line: bytes, first: bool) -> str:
    text = line.split(b"\n", 1)[0].rstrip(b"\r")
    if first and text[:1] in (b" ", b"\t"):
        return "the header block starts with a continuation line"
    if b"\r" in text:
        return "a bare CR inside the header block"
    if text.startswith(b"From "):
        return "an mbox 'From ' line inside the header block"
    name = text.split(b":", 1)[0]
    if b":" not in text:
        return "a header line without a colon"
    if any(byte > 0x7E for byte in name):
        return "a header name with 8-bit bytes"
    return "a header line whose name is not a field name"


def split_header(data: bytes) -> tuple[bytes, bytes]:
    """The header block (with its last line break) and the body (from the empty line on)."""
    block = read_header_block(data)
    return data[:block.end], data[block.end:]
