"""Header surgery on raw message bytes: drop headers the gateway owns, prepend its own."""

from __future__ import annotations

from gateway.adapters.delivery import CrlfLines
from gateway.core.headers import HeaderLine, LineKind, has_bare_line_ending, read_header_block
from gateway.core.headers import split_header as split_header
from gateway.core.label_writers import has_tag
from gateway.core.message import header_text
from gateway.core.owned import OWNED_NAME_PARTS
from gateway.core.owned import owned as _owned


def strip_owned_headers(header: bytes) -> bytes:
    """Remove every field the gateway owns (``core/owned.py``), with its continuation lines.

    Fields are found by the same reading as the message reader's (``Name : value`` too).
    """
    lower = header.lower()
    if not any(name in lower for name in OWNED_NAME_PARTS):
        return header
    block = read_header_block(header)
    kept = b"".join(line.raw for line in block.lines
                    if not (line.kind is LineKind.FIELD and _owned(line.name)))
    return kept + header[block.end:]


def outgoing(data: bytes, prepend: list[tuple[str, str]], subject_tag: str | None = None,
             *, checked: bool = False) -> bytes:
    """The message as relayed: the gateway's own fields first, owned fields stripped.

    A partner's labels (``X-TLP``, ``X-Protective-Marking``, ``SIO-Label``) are owned fields
    too: the client's are dropped and the copy carries the gateway's only. ``subject_tag``
    (``[TLP:RED]``) is put before every Subject that does not already carry that label; a
    message without one gets ``Subject: TAG``.

    Only fields are kept: an mbox ``From `` line behind the prepended fields would sit in the
    middle of the block, and a line that is not a field (refused at the SMTP edge) would be
    read downstream as part of the field before it, or as the start of the body.

    ``checked``: no CR or LF of ``data`` stands outside a CRLF pair (the SMTP edge refused
    it otherwise). If the new header block is so too, and the copy ends in CRLF, the copy is
    a ``CrlfLines``, which delivery sends without another pass over its line endings.
    """
    block = read_header_block(data)
    lines = [line for line in block.lines
             if line.kind is LineKind.FIELD and not _owned(line.name)]
    if subject_tag is not None:
        if not any(line.name.lower() == "subject" for line in lines):
            prepend = [*prepend, ("Subject", subject_tag)]
        lines = [tagged(line, subject_tag) for line in lines]
    fields = b"".join(f"{name}: {value}\r\n".encode("ascii", "replace") for name, value in prepend)
    kept = b"".join(line.raw for line in lines)
    if block.headless:
        kept += b"\r\n"  # the whole message was body: it stays body behind the new fields
    head = fields + kept
    body = memoryview(data)[block.end:]
    if checked and _joins_in_crlf(head, body):
        return CrlfLines(b"".join((head, body)))
    return b"".join((head, body))


def _joins_in_crlf(head: bytes, body: memoryview) -> bool:
    """Whether a new header block, put before the rest of a message whose every CR and LF is
    in a CRLF pair, makes a message of CRLF lines only, ending in CRLF. The rest is not read
    again: only where the two meet can a pair be split."""
    if has_bare_line_ending(head) or body[:1].tobytes() == b"\n":  # (a CR ending head is bare)
        return False
    return body[-2:].tobytes() == b"\r\n" if len(body) else head.endswith(b"\r\n")


def tagged(line: HeaderLine, tag: str) -> HeaderLine:
    """A Subject field with ``tag`` put before its text, unless it already carries it; any
    other field as it was. The rest of the field (encoded words, folding) is kept as sent."""
    if line.name.lower() != "subject" or has_tag(header_text(line.value), tag):
        return line
    name, colon, rest = line.raw.partition(b":")
    text = rest.lstrip(b" \t")
    space = b" " if text.strip(b"\r\n") else b""
    return HeaderLine(line.kind, name + colon + b" " + tag.encode("ascii") + space + text,
                      line.name)
