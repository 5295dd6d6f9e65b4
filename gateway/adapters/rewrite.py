"""Header surgery on raw message bytes: drop headers the gateway owns, prepend its own."""

from __future__ import annotations

import re

# Headers the gateway writes; incoming copies are removed so downstream can trust them.
OWNED_HEADERS = (b"x-stamp", b"x-stampgate-")
_HEADER_END = re.compile(rb"\r?\n\r?\n")


def split_header(data: bytes) -> tuple[bytes, bytes]:
    """The header block (with its final line break) and the body."""
    if data.startswith((b"\r\n", b"\n")):
        return b"", data
    match = _HEADER_END.search(data)
    if match is None:
        return data, b""
    end = match.start() + (2 if data[match.start():match.start() + 2] == b"\r\n" else 1)
    return data[:end], data[end:]


def strip_owned_headers(header: bytes) -> bytes:
    """Remove every field named in ``OWNED_HEADERS`` (with its folded continuation lines)."""
    lower = header.lower()
    if not any(name in lower for name in OWNED_HEADERS):
        return header
    kept: list[bytes] = []
    dropping = False
    for line in header.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        name = line.split(b":", 1)[0].strip().lower()
        dropping = name == b"x-stamp" or name.startswith(b"x-stampgate-")
        if not dropping:
            kept.append(line)
    return b"".join(kept)


def outgoing(data: bytes, prepend: list[tuple[str, str]]) -> bytes:
    """The message as relayed: the gateway's own fields first, owned fields stripped."""
    header, body = split_header(data)
    fields = b"".join(f"{name}: {value}\r\n".encode("ascii", "replace") for name, value in prepend)
    return fields + strip_owned_headers(header) + body
