"""One reading of a header block: its fields, and where the body begins (RFC 5322 section 4)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

# A field line: a printable-ASCII name, optional white space before the colon (obsolete
# syntax). A line starting with white space continues the field before it.
_NAME = re.compile(rb"([!-9;-~]+)[ \t]*:")
# A line that is neither (checked only at line starts, so each line is looked at once).
_NOT_A_FIELD = re.compile(rb"^(?![ \t]|[!-9;-~]+[ \t]*:)", re.MULTILINE)
_FIELD_START = re.compile(rb"\n(?=[^ \t])")
# A field line after the first one: its line break, then a name and a colon. The literal
# first character lets the regex engine skip to each line break, where "^" in MULTILINE
# mode is tried at every byte: two to three times faster over a large headless message.
_LATER_FIELD = re.compile(rb"\n[!-9;-~]+[ \t]*:")
# A line that is not a field: it runs to its line break, with its own continuation lines.
_STRAY = re.compile(rb"[^\n]*(?:\n|\Z)(?:[ \t][^\n]*(?:\n|\Z))*")
_ENVELOPE = re.compile(rb"From [^\n]*\n")
_BLANK = re.compile(rb"\r?\n")
_NEXT_BLANK = re.compile(rb"\n\r?\n")
_WHITE_LINE = re.compile(rb"\n[ \t]+\r?\n")
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
        # Inside one field every line break is followed by white space: each is a fold.
        value = self.raw.split(b":", 1)[1].rstrip(b"\r\n")
        value = value.replace(b"\r\n", b"").replace(b"\n", b"")
        return value.decode("utf-8", "surrogateescape").strip(" \t")


@dataclass(frozen=True, slots=True)
class HeaderBlock:
    """A header block and the offsets of its end and of the body after the blank line."""

    lines: tuple[HeaderLine, ...]
    end: int
    body_start: int
    ambiguous: str | None = None
    # Not one field before the first empty line: the whole message is body for every reader.
    headless: bool = False

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
    # Stray lines are skipped before the empty line, never past it: it is found once.
    blank = _blank_line(data, pos)
    while True:
        bad = _NOT_A_FIELD.search(data, pos, blank)
        stop = blank if bad is None or bad.start() >= blank else bad.start()
        if data[pos:pos + 1] in (b" ", b"\t"):
            stop = pos  # a continuation with no field before it to continue
        _collect(data, pos, stop, lines)
        if stop == blank:
            after = _BLANK.match(data, blank)
            body_start = blank if after is None else after.end()
            if ambiguous is None and _WHITE_LINE.search(data, 0, blank) is not None:
                # Read as a continuation here; a client that takes it for the empty line
                # shows the fields after it as the body.
                ambiguous = "a line of only white space inside the header block"
            return HeaderBlock(tuple(lines), blank, body_start, ambiguous)
        if (not lines or lines[-1].kind is LineKind.ENVELOPE) and stop == pos \
                and data[pos:pos + 1] not in (b" ", b"\t") \
                and not _has_field(data, pos, blank):
            return HeaderBlock(tuple(lines), pos, pos, None, headless=True)
        stray = _STRAY.match(data, stop)
        assert stray is not None
        ambiguous = ambiguous or _why(stray.group(0), not lines)
        lines.append(HeaderLine(LineKind.STRAY, stray.group(0)))
        pos = stray.end()
        strays += 1
        if strays >= MAX_STRAY_LINES or len(lines) > MAX_FIELDS:
            return _give_up(data, pos, lines, "too many lines that are not header fields")


def _has_field(data: bytes, pos: int, end: int) -> bool:
    """Whether a field line starts in ``data[pos:end]`` (``pos`` is a line start)."""
    return (_NAME.match(data, pos, end) is not None
            or _LATER_FIELD.search(data, pos, end) is not None)


def _blank_line(data: bytes, pos: int) -> int:
    """Where the first empty line at or after the line start ``pos`` begins (or the end)."""
    if data[pos:pos + 1] == b"\n" or data[pos:pos + 2] == b"\r\n":
        return pos
    found = _NEXT_BLANK.search(data, pos)
    return len(data) if found is None else found.start() + 1


def _collect(data: bytes, start: int, stop: int, lines: list[HeaderLine]) -> None:
    """The fields of ``data[start:stop]``, every line of which is a field or a continuation."""
    pos = start
    while pos < stop and len(lines) <= MAX_FIELDS:
        following = _FIELD_START.search(data, pos, stop)
        end = stop if following is None else following.end()
        raw = data[pos:end]
        name = _NAME.match(raw)
        assert name is not None
        lines.append(HeaderLine(LineKind.FIELD, raw, name.group(1).decode("ascii")))
        pos = end


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


def has_bare_line_ending(data: bytes) -> bool:
    """A CR or LF that is not part of a CRLF pair."""
    crlf = data.count(b"\r\n")
    return data.count(b"\n") != crlf or data.count(b"\r") != crlf


def header_over(data: bytes, limit: int) -> bool:
    """Whether the header block of ``data`` is longer than ``limit`` bytes.

    The block runs to the first empty line, or to the end of the data. A message with no
    header field in its first ``limit`` bytes is not refused here (it is headless, all body,
    or its header block is ambiguous, which ``read_header_block`` reports). Looks at no more
    than the first ``limit`` + 3 bytes, so a huge header costs no more than a small one.
    """
    if len(data) <= limit or data[:1] == b"\n" or data[:2] == b"\r\n":
        return False
    blank = _NEXT_BLANK.search(data, 0, limit + 3)
    if blank is not None and blank.start() + 1 <= limit:
        return False
    return _has_field(data, 0, limit)


def split_header(data: bytes) -> tuple[bytes, bytes]:
    """The header block (with its last line break) and the body (from the empty line on)."""
    block = read_header_block(data)
    return data[:block.end], data[block.end:]


def uncommented(value: str) -> str:
    """A structured field's value without its comments (RFC 5322 section 3.2.2: nested
    parentheses, backslash escapes), quoted strings kept: ``text/html (plain)`` is HTML."""
    if "(" not in value:
        return value
    out: list[str] = []
    depth = 0
    quoted = escaped = False
    for char in value:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(char)
            continue
        if char == "\\" and (quoted or depth):
            escaped = True
            if depth == 0:
                out.append(char)
            continue
        if quoted:
            quoted = char != '"'
            out.append(char)
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
            if depth == 0:
                out.append(" ")
        elif depth == 0:
            quoted = char == '"'
            out.append(char)
    return "".join(out)
