"""Header surgery on raw message bytes: drop headers the gateway owns, prepend its own."""

from __future__ import annotations

from gateway.core.headers import LineKind, read_header_block
from gateway.core.headers import split_header as split_header
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


def outgoing(data: bytes, prepend: list[tuple[str, str]]) -> bytes:
    """The message as relayed: the gateway's own fields first, owned fields stripped.

    Only fields are kept: an mbox ``From `` line behind the prepended fields would sit in the
    middle of the block, and a line that is not a field (refused at the SMTP edge) would be
    read downstream as part of the field before it, or as the start of the body.
    """
    block = read_header_block(data)
    fields = b"".join(f"{name}: {value}\r\n".encode("ascii", "replace") for name, value in prepend)
    kept = b"".join(line.raw for line in block.lines
                    if line.kind is LineKind.FIELD and not _owned(line.name))
    if block.headless:
        kept += b"\r\n"  # the whole message was body: it stays body behind the new fields
    return fields + kept + data[block.end:]
